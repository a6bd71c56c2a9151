import type Database from 'better-sqlite3'
import type { EventType, Recorded } from '../src/domain/events.js'
import { buffered, unqualified, type Projection, type TableName } from '../src/read/projection.js'
import { RowBuffer } from '../src/read/row-buffer.js'

/** Which audit-log `module` and `event_type` each event is listed under. */
export const AUDIT_KIND: Record<EventType, { module: 'stack' | 'management_token'; event_type: string }> = {
  StackCreated: { module: 'stack', event_type: 'create' },
  MemberShared: { module: 'stack', event_type: 'share' },
  MemberUnshared: { module: 'stack', event_type: 'unshare' },
  OwnershipTransferred: { module: 'stack', event_type: 'transfer_ownership' },
  TokenGenerated: { module: 'management_token', event_type: 'create' },
  TokenRenamed: { module: 'management_token', event_type: 'update' },
  TokenScopeChanged: { module: 'management_token', event_type: 'update' },
  TokenExpiryChanged: { module: 'management_token', event_type: 'update' },
  TokenLimitsChanged: { module: 'management_token', event_type: 'update' },
  TokenNotificationChanged: { module: 'management_token', event_type: 'update' },
  TokenRotated: { module: 'management_token', event_type: 'rotate' },
  TokenRevoked: { module: 'management_token', event_type: 'delete' },
  TokenExpiryNotified: { module: 'management_token', event_type: 'expiry_notice' },
}

/** The token field each single-field update event changes (a rename says itself). */
const UPDATED_FIELDS: Partial<Record<EventType, string[]>> = {
  TokenScopeChanged: ['scope'],
  TokenExpiryChanged: ['expires_on'],
  TokenLimitsChanged: ['rate_limit'],
  TokenNotificationChanged: ['is_email_notification_enabled'],
}

/** A subject's title, and a token's description. */
export type Title = [title: string, detail: string]

/**
 * One row per event, keyed by its position in the log (so a rebuild appends in key order instead
 * of inserting at random places of a B-tree, several times cheaper at a million rows), and
 * findable by the event id, which is the entry's `uid`.
 */
export const auditLog: Projection = {
  name: 'audit-log',
  // 2: keyed by position (was: by uid). TokenExpiryNotified (expiry_notice) did not need a 3: a
  // build without it could not decode such an event, so no read model built before holds a row
  // the current code would write differently, and a rebuild at start-up would change nothing.
  // 3: the actor's email (to filter by it) and, for an update, the fields it changed.
  // 4: in audit.db, its own file; by_stack indexes api_key alone (an index entry ends with the
  // rowid, which is the position, so the order is the same and each entry smaller).
  // 5: the actor filter's indexes (by_actor, by_actor_email): the stack's rows by uid or email.
  version: 5,
  file: 'audit',
  tables: ['audit_log', 'audit_titles'],
  handles: new Set(Object.keys(AUDIT_KIND) as EventType[]),
  create(db, table) {
    const a = table('audit_log')
    const n = table('audit_titles')
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${a} (
        position       INTEGER PRIMARY KEY,
        uid            TEXT NOT NULL,
        api_key        TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        created_by     TEXT NOT NULL,
        module         TEXT NOT NULL,
        event_type     TEXT NOT NULL,
        event          TEXT NOT NULL,
        request_id     TEXT NOT NULL,
        remote_addr    TEXT NOT NULL,
        metadata_uid   TEXT NOT NULL,
        metadata_title TEXT NOT NULL,
        created_by_email TEXT,
        changed        TEXT
      );
      CREATE TABLE IF NOT EXISTS ${n} (uid TEXT PRIMARY KEY, title TEXT NOT NULL, detail TEXT NOT NULL) WITHOUT ROWID;`)
  },
  index(db, table) {
    const a = table('audit_log')
    db.exec(`CREATE INDEX IF NOT EXISTS ${a}_by_stack ON ${unqualified(a)} (api_key);
      CREATE UNIQUE INDEX IF NOT EXISTS ${a}_by_uid ON ${unqualified(a)} (uid);
      CREATE INDEX IF NOT EXISTS ${a}_by_actor ON ${unqualified(a)} (api_key, created_by COLLATE NOCASE);
      CREATE INDEX IF NOT EXISTS ${a}_by_actor_email ON ${unqualified(a)} (api_key, created_by_email COLLATE NOCASE);`)
  },
  prepare(db, table) {
    const insert = insertRow(db, table)
    const n = table('audit_titles')
    const getTitle = db.prepare<[string], Title>(`SELECT title, detail FROM ${n} WHERE uid = ?`).raw()
    const setTitle = db.prepare(`INSERT OR REPLACE INTO ${n} VALUES (?, ?, ?)`)
    const dropTitle = db.prepare(`DELETE FROM ${n} WHERE uid = ?`)
    // Titles (a token's name, and its description to tell what a rename changed) are read and
    // written once per transaction, however many events name the subject.
    const titles = new RowBuffer<Title>(
      (uid) => getTitle.get(uid),
      (uid, [title, detail]) => setTitle.run(uid, title, detail),
      (uid) => dropTitle.run(uid),
    )
    return buffered(titles, (rec) => insert.run(auditRow(rec, titles)))
  },
}

/** The titles an audit row reads and sets: a RowBuffer over audit_titles, or a plain Map. */
export interface Titles {
  get(uid: string): Title | undefined
  set(uid: string, title: Title): unknown
}

/** A row of audit_log in AUDIT_COLUMNS order. */
export type AuditRow = [position: number, ...rest: Array<string | null>]

/** audit_log's columns, in the order of an AuditRow. */
export const AUDIT_COLUMNS = `position, uid, api_key, created_at, created_by, module, event_type, event, request_id, remote_addr,
  metadata_uid, metadata_title, created_by_email, changed`

/** Values of an audit row: rows cross between threads as one flat array per window. */
export const AUDIT_WIDTH = 14

/** `INSERT ... INTO audit_log (columns)`, before its VALUES. */
export const insertHead = (table: TableName): string => `INSERT OR REPLACE INTO ${table('audit_log')} (${AUDIT_COLUMNS})`

/** Inserts an AuditRow (as an array). */
export const insertRow = (db: Database.Database, table: TableName): Database.Statement =>
  db.prepare(`${insertHead(table)} VALUES (${Array.from({ length: AUDIT_WIDTH }, () => '?').join(', ')})`)

/** What each single-field update changed, as stored: one JSON string per event type. */
const UPDATED_JSON = new Map(Object.entries(UPDATED_FIELDS).map(([type, fields]) => [type, JSON.stringify(fields)]))

/**
 * Appends the audit_log row of one event (AUDIT_COLUMNS order, AUDIT_WIDTH values) to `out`, from
 * the event and the titles so far (which it updates). A function of its arguments only: the
 * projection (audit.db, beside EventStoreDB) and the audit log read from the embedded store's own
 * rows (src/read/events-audit.ts) make their entries with it alike.
 */
const pushAuditRow = (out: unknown[], { event, metadata, id, position }: Recorded, titles: Titles): void => {
  let subject: string
  let title: string
  let changed: string | null = null
  switch (event.type) {
    case 'StackCreated':
      subject = event.data.api_key
      title = event.data.name
      titles.set(subject, [title, event.data.description])
      break
    case 'MemberShared':
    case 'MemberUnshared':
      subject = event.data.email
      title = event.data.email
      break
    case 'OwnershipTransferred':
      subject = event.data.to_email
      title = event.data.to_email
      break
    case 'TokenGenerated':
      subject = event.data.token_uid
      title = event.data.name
      titles.set(subject, [title, event.data.description])
      break
    case 'TokenRenamed': {
      subject = event.data.token_uid
      title = event.data.name
      const [name, description] = titles.get(subject) ?? ['', '']
      changed = JSON.stringify([...(name === event.data.name ? [] : ['name']), ...(description === event.data.description ? [] : ['description'])])
      titles.set(subject, [title, event.data.description])
      break
    }
    default:
      subject = event.data.token_uid
      title = titles.get(subject)?.[0] ?? ''
      changed = UPDATED_JSON.get(event.type) ?? null
  }
  const kind = AUDIT_KIND[event.type]
  const m = metadata
  out.push(position, id, event.data.api_key, m.occurred_at, m.actor, kind.module, kind.event_type, event.type, m.request_id, m.remote_addr, subject, title, m.actor_email ?? null, changed)
}

/** The audit_log row of one event as an array of its own (see pushAuditRow). */
export const auditRow = (rec: Recorded, titles: Titles): AuditRow => {
  const row: unknown[] = []
  pushAuditRow(row, rec, titles)
  return row as AuditRow
}
