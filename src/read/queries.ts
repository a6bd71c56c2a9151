import type Database from 'better-sqlite3'
import { AUDIT_COLUMNS, type AuditRow } from '../../projections/audit-log.js'
import { ROLES } from '../domain/roles.js'
import type { RateLimit, Scope } from '../domain/scope.js'

export interface StackView {
  readonly api_key: string
  readonly name: string
  readonly description: string
  readonly owner_uid: string
  readonly owner_email: string
  readonly created_by: string
  readonly updated_by: string
  readonly created_at: string
  readonly updated_at: string
}

export interface TokenView {
  readonly uid: string
  readonly name: string
  readonly description: string
  readonly scope: Scope
  readonly expires_on: string | null
  readonly rate_limit: RateLimit | null
  readonly is_email_notification_enabled: boolean
  readonly created_by: string
  readonly updated_by: string
  readonly created_at: string
  readonly updated_at: string
  /** When the secret was last rotated, or null. */
  readonly last_rotated_at: string | null
}

interface TokenRow {
  uid: string
  name: string
  description: string
  scope: string
  expires_on: string | null
  rate_limit: string | null
  is_email_notification_enabled: number
  created_by: string
  updated_by: string
  created_at: string
  updated_at: string
  rotated_at: string | null
}

const tokenView = (r: TokenRow): TokenView => ({
  uid: r.uid,
  name: r.name,
  description: r.description,
  scope: JSON.parse(r.scope) as Scope,
  expires_on: r.expires_on,
  rate_limit: r.rate_limit === null ? null : (JSON.parse(r.rate_limit) as RateLimit),
  is_email_notification_enabled: r.is_email_notification_enabled === 1,
  created_by: r.created_by,
  updated_by: r.updated_by,
  created_at: r.created_at,
  updated_at: r.updated_at,
  last_rotated_at: r.rotated_at,
})

/** A stack as one of its members sees it in the list of their stacks. */
export interface MemberStackView extends StackView {
  /** The member's role: `owner`, or the first of their roles. */
  readonly role: string
}

/** A member may hold several roles; the console shows the one that allows the most. */
export const highestRole = (roles: readonly string[]): string =>
  roles.includes('owner') ? 'owner' : (ROLES.find((r) => roles.includes(r.uid))?.uid ?? 'developer')

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
  readonly metadata: { readonly uid: string; readonly title: string; readonly changed?: readonly string[] }
}

/** An audit row (AUDIT_COLUMNS order) as the API shows it. */
export const entryOfRow = (r: AuditRow): AuditEntry => {
  const [, uid, stack, created_at, created_by, module, event_type, , request_id, remote_addr, metadata_uid, metadata_title, , changed] = r as unknown as string[]
  return {
    uid: uid as string,
    stack: stack as string,
    created_at: created_at as string,
    created_by: created_by as string,
    module: module as string,
    event_type: event_type as string,
    request_id: request_id as string,
    remote_addr: remote_addr as string,
    metadata: { uid: metadata_uid as string, title: metadata_title as string, ...(changed === null ? {} : { changed: JSON.parse(changed as string) as string[] }) },
  }
}

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
  const auditOne = db.prepare<[string, string], AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE api_key = ? AND uid = ?`).raw()
  return {
    audit: (apiKey, f) => {
      const where: string[] = []
      if (f.module) where.push('module = @module')
      if (f.event_type) where.push('event_type = @event_type')
      const params = { apiKey, module: f.module, event_type: f.event_type }
      const { sql, bound } = auditWhere(f, TABLE_COLUMNS, where, params)
      const rows = db.prepare(`SELECT ${AUDIT_COLUMNS} FROM audit_log WHERE ${sql} ORDER BY position DESC LIMIT @limit OFFSET @skip`).raw().all({ ...bound, limit: f.limit, skip: f.skip }) as AuditRow[]
      const count = db.prepare(`SELECT COUNT(*) FROM audit_log WHERE ${sql}`).pluck().get(bound) as number
      return { logs: rows.map(entryOfRow), count }
    },
    auditEntry: (apiKey, uid) => {
      const r = auditOne.get(apiKey, uid)
      return r ? entryOfRow(r) : undefined
    },
  }
}

/**
 * Read-side queries for the management API, prepared once per read-model database; the audit
 * log from `audit` (by default audit.db's table, which is then prepared on first use).
 */
export const createQueries = (db: Database.Database, audit?: AuditSource) => {
  let table: AuditSource | undefined
  const auditLog = (): AuditSource => audit ?? (table ??= tableAudit(db))
  const stack = db.prepare<[string], StackView>('SELECT * FROM stacks WHERE api_key = ?')
  const member = db.prepare<[string, string], { roles: string }>(
    'SELECT roles FROM stack_members WHERE api_key = ? AND email = ?',
  )
  const members = db.prepare<[string], { email: string; roles: string }>(
    'SELECT email, roles FROM stack_members WHERE api_key = ? ORDER BY email',
  )
  const tokens = db.prepare<[string], TokenRow>(
    'SELECT * FROM tokens WHERE api_key = ? AND revoked_at IS NULL ORDER BY created_at, uid',
  )
  const token = db.prepare<[string, string], TokenRow>(
    'SELECT * FROM tokens WHERE api_key = ? AND uid = ? AND revoked_at IS NULL',
  )
  // stack_members holds the owner too (StackCreated adds them, with no roles).
  const stacksOf = db.prepare<[string], StackView & { roles: string }>(
    `SELECT s.*, m.roles AS roles FROM stack_members m JOIN stacks s ON s.api_key = m.api_key
     WHERE m.email = ? ORDER BY s.created_at, s.api_key`,
  )
  const created = db.prepare<[string], number>('SELECT COUNT(*) FROM stacks WHERE created_by = ?').pluck()
  return {
    stack: (apiKey: string): StackView | undefined => stack.get(apiKey),
    /** How many stacks the user (uid) created, whoever owns them now. */
    stacksCreatedBy: (uid: string): number => created.get(uid) as number,
    /** 'owner', the member's roles, or undefined for a non-member. */
    roles: (apiKey: string, email: string): readonly string[] | undefined => {
      const s = stack.get(apiKey)
      if (!s) return undefined
      if (s.owner_email === email) return ['owner']
      const m = member.get(apiKey, email)
      return m ? (JSON.parse(m.roles) as string[]) : undefined
    },
    /** Every stack the email is a member (or the owner) of, oldest first, with its role. */
    stacksOf: (email: string): MemberStackView[] =>
      stacksOf.all(email).map(({ roles, ...s }) => ({
        ...s,
        role: s.owner_email === email ? 'owner' : highestRole(JSON.parse(roles) as string[]),
      })),
    members: (apiKey: string) => {
      const owner = stack.get(apiKey)?.owner_email
      return members.all(apiKey).map((m) => ({
        email: m.email,
        roles: m.email === owner ? ['owner'] : (JSON.parse(m.roles) as string[]),
      }))
    },
    tokens: (apiKey: string): TokenView[] => tokens.all(apiKey).map(tokenView),
    token: (apiKey: string, uid: string): TokenView | undefined => {
      const r = token.get(apiKey, uid)
      return r ? tokenView(r) : undefined
    },
    audit: (apiKey: string, f: AuditFilter): { logs: AuditEntry[]; count: number } => auditLog().audit(apiKey, f),
    auditEntry: (apiKey: string, uid: string): AuditEntry | undefined => auditLog().auditEntry(apiKey, uid),
  }
}

export type Queries = ReturnType<typeof createQueries>
