import type { EventStore } from '../src/eventstore/port.js'
import type { Projection } from '../src/read/projection.js'
import { auditLog } from './audit-log/index.js'
import { stackMembers } from './stack-members/index.js'
import { stackPolicy } from './stack-policy/index.js'
import { tokenByHash } from './token-by-hash/index.js'
import { tokensByStack } from './tokens-by-stack/index.js'

/** Every projection there is, in the order they are applied. */
export const PROJECTIONS: readonly Projection[] = [tokenByHash, tokensByStack, stackMembers, stackPolicy, auditLog]

/** This module, which exports PROJECTIONS: a rebuild's worker thread finds them in it by name. */
export const PROJECTIONS_MODULE: string = import.meta.url

/** read-models.db's: what the authorizer and the management API read. */
export const READ_MODEL_PROJECTIONS: readonly Projection[] = PROJECTIONS.filter((p) => p.file === 'read-models')

/**
 * The projections a service on `store` keeps. On the embedded store the audit log is read from
 * the store's own rows (audit-log/events-audit.ts), so the audit-log projection runs only beside
 * another store (EventStoreDB), whose events are not in a SQLite file.
 */
export const projectionsFor = (store: EventStore): readonly Projection[] => (store.embedded ? READ_MODEL_PROJECTIONS : PROJECTIONS)

export { auditLog, stackMembers, stackPolicy, tokenByHash, tokensByStack }
