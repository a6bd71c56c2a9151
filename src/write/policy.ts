import type { Config } from '../config.js'
import type { Policy } from '../domain/commands.js'

/** The limits the domain enforces, as this instance is configured. */
export const policyOf = (config: Pick<Config, keyof Policy>): Policy => ({
  maxTokensPerStack: config.maxTokensPerStack,
  planReadLimit: config.planReadLimit,
  planWriteLimit: config.planWriteLimit,
  maxMembersPerStack: config.maxMembersPerStack,
  maxEmailsPerShare: config.maxEmailsPerShare,
  maxStacksPerUser: config.maxStacksPerUser,
})
