import type Database from 'better-sqlite3'
import { NO_POLICY, type StackPolicy } from '../../src/domain/token-policy.js'
import type { PolicyRow } from './index.js'

/** A stack's token policy, every rule present (null when unset), prepared once per read-model connection. */
export const policyQueries = (db: Database.Database) => {
  const policy = db.prepare<[string], PolicyRow>('SELECT * FROM stack_policies WHERE api_key = ?')
  return {
    policy: (apiKey: string): StackPolicy => {
      const r = policy.get(apiKey)
      if (!r) return NO_POLICY
      return {
        max_lifetime_days: r.max_lifetime_days,
        require_expiry: r.require_expiry === null ? null : r.require_expiry === 1,
        inactive_days: r.inactive_days,
        default_rotation_grace_seconds: r.default_rotation_grace_seconds,
      }
    },
  }
}
