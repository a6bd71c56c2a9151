import type Database from 'better-sqlite3'
import type { AuditLogRow } from './index.js'

export interface AuditFilter {
  readonly module?: string
  readonly event_type?: string
  readonly actor?: string
  readonly from?: string
  readonly to?: string
  readonly limit: number
  readonly skip: number
}

export interface AuditEntry {
  readonly uid: string
  readonly stack: string
  readonly created_at: string
  readonly created_by: string
  readonly module: string
  readonly event_type: string
  readonly request_id: string
  readonly remote_addr: string
  readonly metadata: {
    readonly uid: string
    readonly title: string
    readonly changed?: readonly string[]
    readonly before?: Readonly<Record<string, unknown>>
    readonly after?: Readonly<Record<string, unknown>>
    readonly reason?: string
    readonly report?: { readonly url: string | null; readonly source: string | null; readonly signed: boolean }
  }
}

/** The JSON of a change column as the entry shows it, or nothing. */
const parsed = <K extends string>(key: K, json: string | null) => (json === null ? {} : ({ [key]: JSON.parse(json) } as Record<K, never>))

/** An audit row as the API shows it. */
export const entryOfRow = (r: AuditLogRow): AuditEntry => ({
  uid: r.uid,
  stack: r.api_key,
  created_at: r.created_at,
  created_by: r.created_by,
  module: r.module,
  event_type: r.event_type,
  request_id: r.request_id,
  remote_addr: r.remote_addr,
  metadata: {
    uid: r.metadata_uid,
    title: r.metadata_title,
    ...parsed('changed', r.changed),
    ...parsed('before', r.before),
    ...parsed('after', r.after),
    ...(r.reason === null ? {} : { reason: r.reason }),
    ...parsed('report', r.report),
  },
})

/** Where a source keeps a stack's rows, and the SQL of their actor's uid and email and instant. */
export interface AuditColumns {
  readonly table: string
  /** The clause that selects the stack's rows (with its parameter). */
  readonly stack: string
  readonly actor: string
  readonly email: string
  readonly time: string
}

/**
 * The clauses and parameters of an audit filter's stack, actor and time range, over either
 * source's columns; the caller adds its own clauses and parameters for the kind of event.
 * The actor is a uid or an email, either case (emails are stored in their canonical form): the
 * positions of the stack's rows of each, from an index on (stack, uid) and one on (stack, email).
 * Written as an OR of the two, or beside a clause on the stack alone, SQLite would read every
 * row of the stack instead.
 */
export const auditWhere = (
  f: AuditFilter,
  at: AuditColumns,
  where: string[],
  params: Record<string, unknown>,
): { sql: string; bound: Record<string, unknown> } => {
  const rowsOf = (column: string) => `SELECT position FROM ${at.table} WHERE ${at.stack} AND ${column} = @actor COLLATE NOCASE`
  where.unshift(f.actor ? `position IN (${rowsOf(at.actor)} UNION ${rowsOf(at.email)})` : at.stack)
  if (f.from) where.push(`${at.time} >= @from`)
  if (f.to) where.push(`${at.time} <= @to`)
  const all = { ...params, actor: f.actor, from: f.from, to: f.to }
  return { sql: where.join(' AND '), bound: Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined && v !== '')) }
}

/** Where the audit log is read from: audit.db's table (tableAudit) or the event store's rows (events-audit.ts). */
export interface AuditSource {
  audit(apiKey: string, f: AuditFilter): { logs: AuditEntry[]; count: number }
  auditEntry(apiKey: string, uid: string): AuditEntry | undefined
}

const TABLE_COLUMNS: AuditColumns = { table: 'audit_log', stack: 'api_key = @apiKey', actor: 'created_by', email: 'created_by_email', time: 'created_at' }

/** The audit log as the audit-log projection keeps it (audit.db's `audit_log`). */
export const tableAudit = (db: Database.Database): AuditSource => {
  const auditOne = db.prepare<[string, string], AuditLogRow>(`SELECT * FROM audit_log WHERE api_key = ? AND uid = ?`)
  return {
    audit: (apiKey, f) => {
      const where: string[] = []
      if (f.module) where.push('module = @module')
      if (f.event_type) where.push('event_type = @event_type')
      const params = { apiKey, module: f.module, event_type: f.event_type }
      const { sql, bound } = auditWhere(f, TABLE_COLUMNS, where, params)
      const rows = db.prepare(`SELECT * FROM audit_log WHERE ${sql} ORDER BY position DESC LIMIT @limit OFFSET @skip`).all({ ...bound, limit: f.limit, skip: f.skip }) as AuditLogRow[]
      const count = db.prepare(`SELECT COUNT(*) FROM audit_log WHERE ${sql}`).pluck().get(bound) as number
      return { logs: rows.map(entryOfRow), count }
    },
    auditEntry: (apiKey, uid) => {
      const r = auditOne.get(apiKey, uid)
      return r ? entryOfRow(r) : undefined
    },
  }
}
