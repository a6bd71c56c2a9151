import { buffered, unqualified, type Projection } from '../src/read/projection.js'
import { RowBuffer } from '../src/read/row-buffer.js'

/** Token details for listing, querying and fetching (never a secret, not even its hash). */
export const tokensByStack: Projection = {
  name: 'tokens-by-stack',
  version: 1,
  file: 'read-models',
  tables: ['tokens'],
  handles: new Set([
    'TokenGenerated',
    'TokenRenamed',
    'TokenScopeChanged',
    'TokenExpiryChanged',
    'TokenLimitsChanged',
    'TokenNotificationChanged',
    'TokenRotated',
    'TokenRevoked',
  ]),
  create(db, table) {
    const t = table('tokens')
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${t} (
        uid         TEXT PRIMARY KEY,
        api_key     TEXT NOT NULL,
        name        TEXT NOT NULL,
        description TEXT NOT NULL,
        scope       TEXT NOT NULL,
        expires_on  TEXT,
        rate_limit  TEXT,
        is_email_notification_enabled INTEGER NOT NULL,
        created_by  TEXT NOT NULL,
        updated_by  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        rotated_at  TEXT,
        revoked_at  TEXT,
        revoked_by  TEXT
      ) WITHOUT ROWID;`)
  },
  index(db, table) {
    const t = table('tokens')
    db.exec(`CREATE INDEX IF NOT EXISTS ${t}_by_stack ON ${unqualified(t)} (api_key, created_at)`)
  },
  prepare(db, table) {
    const t = table('tokens')
    // Rows as arrays in column order: read once and written once per transaction (RowBuffer).
    const read = db.prepare<[string], Row>(`SELECT * FROM ${t} WHERE uid = ?`).raw()
    const write = db.prepare(
      `INSERT OR REPLACE INTO ${t} (uid, api_key, name, description, scope, expires_on, rate_limit,
         is_email_notification_enabled, created_by, updated_by, created_at, updated_at, rotated_at, revoked_at, revoked_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const remove = db.prepare(`DELETE FROM ${t} WHERE uid = ?`)
    const rows = new RowBuffer<Row>(
      (uid) => read.get(uid),
      (_uid, row) => write.run(row),
      (uid) => remove.run(uid),
    )
    return buffered(rows, ({ event, metadata }) => {
      const actor = metadata.actor
      const at = metadata.occurred_at
      if (event.type === 'TokenGenerated') {
        const d = event.data
        const rate = d.rate_limit === null ? null : JSON.stringify(d.rate_limit)
        const notify = d.is_email_notification_enabled ? 1 : 0
        rows.set(d.token_uid, [d.token_uid, d.api_key, d.name, d.description, JSON.stringify(d.scope), d.expires_on, rate, notify, actor, actor, at, at, null, null, null])
        return
      }
      // Every other event updates the token's row, if there is one.
      if (!('token_uid' in event.data)) return
      const uid = event.data.token_uid
      const row = rows.get(uid)
      if (!row) return
      switch (event.type) {
        case 'TokenRenamed':
          row[NAME] = event.data.name
          row[DESCRIPTION] = event.data.description
          break
        case 'TokenScopeChanged':
          row[SCOPE] = JSON.stringify(event.data.scope)
          break
        case 'TokenExpiryChanged':
          row[EXPIRES_ON] = event.data.expires_on
          break
        case 'TokenLimitsChanged':
          row[RATE_LIMIT] = event.data.rate_limit === null ? null : JSON.stringify(event.data.rate_limit)
          break
        case 'TokenNotificationChanged':
          row[NOTIFY] = event.data.is_email_notification_enabled ? 1 : 0
          break
        case 'TokenRotated':
          row[ROTATED_AT] = at
          break
        case 'TokenRevoked':
          row[REVOKED_AT] = at
          row[REVOKED_BY] = actor
          break
        default:
          return
      }
      row[UPDATED_BY] = actor
      row[UPDATED_AT] = at
      rows.changed(uid)
    })
  },
}

/** A row of `tokens` in column order. */
type Row = Array<string | number | null>
const NAME = 2
const DESCRIPTION = 3
const SCOPE = 4
const EXPIRES_ON = 5
const RATE_LIMIT = 6
const NOTIFY = 7
const UPDATED_BY = 9
const UPDATED_AT = 11
const ROTATED_AT = 12
const REVOKED_AT = 13
const REVOKED_BY = 14
