import type Database from 'better-sqlite3'
import * as E from 'fp-ts/lib/Either.js'
import type { EventType } from '../../src/domain/events.js'
import type { EventStore, RawShareRow } from '../../src/eventstore/port.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { decodeShareRow } from '../../src/read/log.js'
import { auditRow, titleRead, type Title } from './index.js'
import { AUDIT_KIND } from './kinds.js'
import { auditWhere, entryOfRow, type AuditColumns, type AuditEntry, type AuditFilter, type AuditSource } from './queries.js'

const COLUMNS = 'position, id, stream, revision, type, data, metadata'
/** The events that name a token (TokenGenerated, TokenRenamed), as SQL. */
const NAMING = "'TokenGenerated', 'TokenRenamed'"
const TITLES_INDEX = 'audit_token_titles'
const TYPES = Object.keys(AUDIT_KIND) as EventType[]
const ACTOR = "metadata ->> '$.actor'"
const EMAIL = "metadata ->> '$.actor_email'"
const COLUMNS_OF_EVENTS: AuditColumns = { table: 'events', stack: 'stream = @stream', actor: ACTOR, email: EMAIL, time: "metadata ->> '$.occurred_at'" }

/** The event types an audit filter's module and event_type allow (every type when neither is given). */
export const typesOf = (f: Pick<AuditFilter, 'module' | 'event_type'>): EventType[] =>
  TYPES.filter((t) => (f.module === undefined || AUDIT_KIND[t].module === f.module) && (f.event_type === undefined || AUDIT_KIND[t].event_type === f.event_type))

/**
 * The audit log read from the embedded event store's own rows, on the store's
 * connection: a stack's entries are its stream's events, which UNIQUE(stream, revision) already
 * indexes, newest first (a stream's revisions follow its positions). Nothing is copied per event,
 * so there is no audit table to rebuild and a change is listed as soon as it is appended. Each
 * entry is the row that the audit-log projection (the EventStoreDB path) would hold, computed by
 * the same auditRow: a token's title, and what a rename changed, from the stack's naming
 * events before the entry.
 */
export const eventsAudit = (events: Database.Database): AuditSource => {
  // The audit log's indexes in the event store. A token's naming events (auditRow reads only
  // tokens' titles; a stack's events take theirs from the event itself): built once (the cost is
  // in docs/architecture.md); each append then adds an entry for a naming event only.
  events.exec(`CREATE INDEX IF NOT EXISTS ${TITLES_INDEX} ON events (stream, data ->> '$.token_uid', position) WHERE type IN (${NAMING})`)
  // And the `actor` filter's (see auditWhere): a stack's events by their actor's uid, and by
  // their email, in either case: an entry per event in each (their cost is in docs/audit.md).
  events.exec(`CREATE INDEX IF NOT EXISTS audit_by_actor ON events (stream, (${ACTOR}) COLLATE NOCASE);
    CREATE INDEX IF NOT EXISTS audit_by_actor_email ON events (stream, (${EMAIL}) COLLATE NOCASE)`)
  const titleBefore = events
    .prepare<[string, string, number], Title>(
      `SELECT data ->> '$.name', data ->> '$.description' FROM events INDEXED BY ${TITLES_INDEX}
       WHERE stream = ? AND data ->> '$.token_uid' = ? AND type IN (${NAMING}) AND position < ? ORDER BY position DESC LIMIT 1`,
    )
    .raw()
  const one = events.prepare<[string, string], RawShareRow>(`SELECT ${COLUMNS} FROM events WHERE id = ? AND stream = ?`).raw()

  /** The audit entry of one of `stream`'s rows: the token's title before it from its latest naming event. */
  const entry = (stream: string, raw: RawShareRow): AuditEntry => {
    const decoded = decodeShareRow(raw)
    if (E.isLeft(decoded)) throw decoded.left
    const rec = decoded.right
    const token = titleRead(rec.event)
    const title = token === undefined ? undefined : titleBefore.get(stream, token, rec.position)
    return entryOfRow(auditRow(rec, title).row)
  }

  return {
    audit(apiKey, f) {
      const types = typesOf(f)
      if (types.length === 0) return { logs: [], count: 0 }
      const where: string[] = []
      if (types.length < TYPES.length) where.push(`type IN (${types.map((t) => `'${t}'`).join(', ')})`)
      const stream = stackStream(apiKey)
      const { sql, bound } = auditWhere(f, COLUMNS_OF_EVENTS, where, { stream })
      const rows = events.prepare(`SELECT ${COLUMNS} FROM events WHERE ${sql} ORDER BY revision DESC LIMIT @limit OFFSET @skip`).raw().all({ ...bound, limit: f.limit, skip: f.skip }) as RawShareRow[]
      const count = events.prepare(`SELECT COUNT(*) FROM events WHERE ${sql}`).pluck().get(bound) as number
      return { logs: rows.map((r) => entry(stream, r)), count }
    },
    auditEntry(apiKey, uid) {
      const stream = stackStream(apiKey)
      const row = one.get(uid, stream)
      return row ? entry(stream, row) : undefined
    },
  }
}

/** Where a service on `store` reads its audit log: the store's rows, or (undefined) the audit-log projection's table. */
export const auditSourceFor = (store: EventStore): AuditSource | undefined => (store.embedded ? eventsAudit(store.embedded.connection) : undefined)
