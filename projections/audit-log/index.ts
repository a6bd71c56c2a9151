import type { DomainEvent, EventType, Recorded } from '../../src/domain/events.js'
import { one, put, type Change, type Current, type Projection, type Table } from '../../src/read/projection.js'
import { changeOf, type ChangeColumns } from './changes.js'
import { AUDIT_KIND } from './kinds.js'

export { AUDIT_KIND }

/** A subject's title, and a token's description. */
export type Title = [title: string, detail: string]

/** A row of `audit_log`: one entry, one event. */
export type AuditLogRow = ChangeColumns & {
  readonly position: number
  /** The event's id. */
  readonly uid: string
  readonly api_key: string
  readonly created_at: string
  readonly created_by: string
  readonly module: string
  readonly event_type: string
  /** The event's type. */
  readonly event: string
  readonly request_id: string
  readonly remote_addr: string
  readonly metadata_uid: string
  readonly metadata_title: string
  readonly created_by_email: string | null
}

type TitleRow = { readonly uid: string; readonly title: string; readonly detail: string }

/**
 * Keyed by the event's position in the log (so a rebuild appends in key order instead of inserting
 * at random places of a B-tree), and findable by the event id, which is the entry's `uid`.
 */
export const auditLogTable: Table<AuditLogRow> = {
  name: 'audit_log',
  columns: {
    position: 'INTEGER PRIMARY KEY',
    uid: 'TEXT NOT NULL',
    api_key: 'TEXT NOT NULL',
    created_at: 'TEXT NOT NULL',
    created_by: 'TEXT NOT NULL',
    module: 'TEXT NOT NULL',
    event_type: 'TEXT NOT NULL',
    event: 'TEXT NOT NULL',
    request_id: 'TEXT NOT NULL',
    remote_addr: 'TEXT NOT NULL',
    metadata_uid: 'TEXT NOT NULL',
    metadata_title: 'TEXT NOT NULL',
    created_by_email: 'TEXT',
    changed: 'TEXT',
    before: 'TEXT',
    after: 'TEXT',
    reason: 'TEXT',
    report: 'TEXT',
  },
  withoutRowid: false,
  key: ['position'],
  indexes: [
    // An index entry ends with the rowid, which is the position: a stack's entries in log order.
    { name: 'by_stack', on: 'api_key' },
    { name: 'by_uid', on: 'uid', unique: true },
    { name: 'by_actor', on: 'api_key, created_by COLLATE NOCASE' },
    { name: 'by_actor_email', on: 'api_key, created_by_email COLLATE NOCASE' },
  ],
}

/** The latest title of each stack and token, to name them in later entries. */
export const titles: Table<TitleRow> = {
  name: 'audit_titles',
  columns: { uid: 'TEXT PRIMARY KEY', title: 'TEXT NOT NULL', detail: 'TEXT NOT NULL' },
  key: ['uid'],
}

/** The token whose title before the event an entry reads: every token event's but its creation's. */
export const titleRead = (event: DomainEvent): string | undefined =>
  event.type !== 'TokenGenerated' && 'token_uid' in event.data ? event.data.token_uid : undefined

/**
 * The audit_log row of one event, from the event and the title of `titleRead(event)` before it;
 * with the title the event gives its subject (a stack's or token's name and description), if it
 * names one. A function of its arguments only: the projection (audit.db, beside EventStoreDB) and
 * the audit log read from the embedded store's own rows (events-audit.ts) make their entries alike.
 */
export const auditRow = ({ event, metadata: m, id, position }: Recorded, before: Title | undefined): { row: AuditLogRow; title?: Title } => {
  let subject: string
  let name: string
  let title: Title | undefined
  switch (event.type) {
    case 'StackCreated':
      subject = event.data.api_key
      name = event.data.name
      title = [name, event.data.description]
      break
    case 'MemberShared':
    case 'MemberUnshared':
    case 'MemberRoleChanged':
      subject = event.data.email
      name = event.data.email
      break
    case 'OwnershipTransferred':
      subject = event.data.to_email
      name = event.data.to_email
      break
    case 'TokenGenerated':
      subject = event.data.token_uid
      name = event.data.name
      title = [name, event.data.description]
      break
    case 'TokenRenamed':
      subject = event.data.token_uid
      name = event.data.name
      title = [name, event.data.description]
      break
    default:
      subject = event.data.token_uid
      name = before?.[0] ?? ''
  }
  const kind = AUDIT_KIND[event.type]
  const row: AuditLogRow = {
    position,
    uid: id,
    api_key: event.data.api_key,
    created_at: m.occurred_at,
    created_by: m.actor,
    module: kind.module,
    event_type: kind.event_type,
    event: event.type,
    request_id: m.request_id,
    remote_addr: m.remote_addr,
    metadata_uid: subject,
    metadata_title: name,
    created_by_email: m.actor_email ?? null,
    ...changeOf(event, before),
  }
  return title ? { row, title } : { row }
}

const evolve = (current: Current, rec: Recorded): readonly Change[] => {
  const token = titleRead(rec.event)
  const before = token === undefined ? undefined : one(current, titles, token)
  const { row, title } = auditRow(rec, before && [before.title, before.detail])
  const entry = put(auditLogTable, row)
  return title ? [entry, put(titles, { uid: row.metadata_uid, title: title[0], detail: title[1] })] : [entry]
}

/** One entry per event: who did what to which stack or token, and when. */
export const auditLog: Projection = {
  name: 'audit-log',
  // 2: keyed by position (was: by uid). TokenExpiryNotified (expiry_notice) did not need a 3: a
  // build without it could not decode such an event, so no read model built before holds a row
  // the current code would write differently, and a rebuild at start-up would change nothing.
  // 3: the actor's email (to filter by it) and, for an update, the fields it changed.
  // 4: in audit.db, its own file; by_stack indexes api_key alone.
  // 5: the actor filter's indexes (by_actor, by_actor_email): the stack's rows by uid or email.
  // 7: what an update changed from and to (before, after) and why a token was revoked (reason).
  // 8: where a leaked token's secret was reported found (report).
  version: 8,
  file: 'audit',
  tables: [auditLogTable as Table, titles as Table],
  handles: new Set(Object.keys(AUDIT_KIND) as EventType[]),
  evolve,
}
