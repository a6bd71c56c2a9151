import type { Projection } from '../src/read/projection.js'
import { auditLog } from './audit-log.js'
import { stackMembers } from './stack-members.js'
import { tokenByHash } from './token-by-hash.js'
import { tokensByStack } from './tokens-by-stack.js'

/** Every read model the service keeps, in the order they are applied. */
export const PROJECTIONS: readonly Projection[] = [tokenByHash, tokensByStack, stackMembers, auditLog]

export { auditLog, stackMembers, tokenByHash, tokensByStack }
