import type { Projection } from '../src/read/projection.js'

/** Token details for listing, querying and fetching (never a secret, not even its hash). */
export const tokensByStack: Projection = {
  name: 'tokens-by-stack',
  version: 1,
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
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${t}_by_stack ON ${t} (api_key, created_at);`)
  },
  prepare(db, table) {
    const t = table('tokens')
    const insert = db.prepare(
      `INSERT OR REPLACE INTO ${t} (uid, api_key, name, description, scope, expires_on, rate_limit,
         is_email_notification_enabled, created_by, updated_by, created_at, updated_at, rotated_at, revoked_at, revoked_by)
       VALUES (@uid, @api_key, @name, @description, @scope, @expires_on, @rate_limit, @notify, @actor, @actor, @at, @at, NULL, NULL, NULL)`,
    )
    const touch = (set: string) =>
      db.prepare(`UPDATE ${t} SET ${set}, updated_by = @actor, updated_at = @at WHERE uid = @uid`)
    const rename = touch('name = @name, description = @description')
    const scope = touch('scope = @scope')
    const expiry = touch('expires_on = @expires_on')
    const limits = touch('rate_limit = @rate_limit')
    const notify = touch('is_email_notification_enabled = @notify')
    const rotated = touch('rotated_at = @at')
    const revoked = touch('revoked_at = @at, revoked_by = @actor')
    return ({ event, metadata }) => {
      const base = { actor: metadata.actor, at: metadata.occurred_at }
      switch (event.type) {
        case 'TokenGenerated': {
          const d = event.data
          insert.run({
            ...base,
            uid: d.token_uid,
            api_key: d.api_key,
            name: d.name,
            description: d.description,
            scope: JSON.stringify(d.scope),
            expires_on: d.expires_on,
            rate_limit: d.rate_limit === null ? null : JSON.stringify(d.rate_limit),
            notify: d.is_email_notification_enabled ? 1 : 0,
          })
          return
        }
        case 'TokenRenamed':
          rename.run({ ...base, uid: event.data.token_uid, name: event.data.name, description: event.data.description })
          return
        case 'TokenScopeChanged':
          scope.run({ ...base, uid: event.data.token_uid, scope: JSON.stringify(event.data.scope) })
          return
        case 'TokenExpiryChanged':
          expiry.run({ ...base, uid: event.data.token_uid, expires_on: event.data.expires_on })
          return
        case 'TokenLimitsChanged':
          limits.run({
            ...base,
            uid: event.data.token_uid,
            rate_limit: event.data.rate_limit === null ? null : JSON.stringify(event.data.rate_limit),
          })
          return
        case 'TokenNotificationChanged':
          notify.run({ ...base, uid: event.data.token_uid, notify: event.data.is_email_notification_enabled ? 1 : 0 })
          return
        case 'TokenRotated':
          rotated.run({ ...base, uid: event.data.token_uid })
          return
        case 'TokenRevoked':
          revoked.run({ ...base, uid: event.data.token_uid })
          return
        default:
      }
    }
  },
}
