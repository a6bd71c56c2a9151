import type Database from 'better-sqlite3'
import { tableAudit, type AuditEntry, type AuditFilter, type AuditSource } from './audit-log/queries.js'
import { stackQueries } from './stack-members/queries.js'
import { secretQueries } from './token-by-hash/queries.js'
import { tokenQueries } from './tokens-by-stack/queries.js'

export type { AuditColumns, AuditEntry, AuditFilter, AuditSource } from './audit-log/queries.js'
export { auditWhere, entryOfRow, tableAudit } from './audit-log/queries.js'
export { highestRole, type MemberStackView, type StackView } from './stack-members/queries.js'
export type { TokenView } from './tokens-by-stack/queries.js'

/**
 * Read-side queries for the management API, prepared once per read-model database; the audit
 * log from `audit` (by default audit.db's table, which is then prepared on first use); `now` is
 * the service's clock.
 */
export const createQueries = (db: Database.Database, audit?: AuditSource, now: () => Date = () => new Date()) => {
  let table: AuditSource | undefined
  const auditLog = (): AuditSource => audit ?? (table ??= tableAudit(db))
  return {
    ...stackQueries(db),
    ...tokenQueries(db, now),
    ...secretQueries(db),
    audit: (apiKey: string, f: AuditFilter): { logs: AuditEntry[]; count: number } => auditLog().audit(apiKey, f),
    auditEntry: (apiKey: string, uid: string): AuditEntry | undefined => auditLog().auditEntry(apiKey, uid),
  }
}

export type Queries = ReturnType<typeof createQueries>
