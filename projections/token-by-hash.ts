import type { Projection } from '../src/read/projection.js'
import { ms } from '../src/read/projection.js'

/**
 * What the request authorizer reads: one row per secret that currently opens a token (the
 * current secret, plus a rotated-out one during its grace period), denormalised with everything
 * a decision needs. Revocation deletes the rows, so a revoked token is simply unknown.
 */
export const tokenByHash: Projection = {
  name: 'token-by-hash',
  version: 1,
  tables: ['token_secrets'],
  handles: new Set([
    'TokenGenerated',
    'TokenScopeChanged',
    'TokenExpiryChanged',
    'TokenLimitsChanged',
    'TokenRotated',
    'TokenRevoked',
  ]),
  create(db, table) {
    const t = table('token_secrets')
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${t} (
        secret_hash TEXT PRIMARY KEY,
        token_uid   TEXT NOT NULL,
        api_key     TEXT NOT NULL,
        scope       TEXT NOT NULL,
        expires_at  INTEGER,
        rate_read   INTEGER,
        rate_write  INTEGER,
        valid_until INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ${t}_by_token ON ${t} (token_uid);`)
  },
  prepare(db, table) {
    const t = table('token_secrets')
    const upsert = db.prepare(
      `INSERT OR REPLACE INTO ${t} (secret_hash, token_uid, api_key, scope, expires_at, rate_read, rate_write, valid_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const setScope = db.prepare(`UPDATE ${t} SET scope = ? WHERE token_uid = ?`)
    const setExpiry = db.prepare(`UPDATE ${t} SET expires_at = ? WHERE token_uid = ?`)
    const setLimits = db.prepare(`UPDATE ${t} SET rate_read = ?, rate_write = ? WHERE token_uid = ?`)
    const rotate = db.prepare(
      `INSERT OR REPLACE INTO ${t} (secret_hash, token_uid, api_key, scope, expires_at, rate_read, rate_write, valid_until)
       SELECT ?, token_uid, api_key, scope, expires_at, rate_read, rate_write, NULL FROM ${t} WHERE secret_hash = ?`,
    )
    const graceOld = db.prepare(`UPDATE ${t} SET valid_until = ? WHERE secret_hash = ?`)
    const drop = db.prepare(`DELETE FROM ${t} WHERE secret_hash = ?`)
    const dropToken = db.prepare(`DELETE FROM ${t} WHERE token_uid = ?`)
    return ({ event, metadata }) => {
      switch (event.type) {
        case 'TokenGenerated': {
          const d = event.data
          upsert.run(d.secret_hash, d.token_uid, d.api_key, JSON.stringify(d.scope), ms(d.expires_on),
            d.rate_limit?.read ?? null, d.rate_limit?.write ?? null, null)
          return
        }
        case 'TokenScopeChanged':
          setScope.run(JSON.stringify(event.data.scope), event.data.token_uid)
          return
        case 'TokenExpiryChanged':
          setExpiry.run(ms(event.data.expires_on), event.data.token_uid)
          return
        case 'TokenLimitsChanged':
          setLimits.run(event.data.rate_limit?.read ?? null, event.data.rate_limit?.write ?? null, event.data.token_uid)
          return
        case 'TokenRotated': {
          const d = event.data
          rotate.run(d.secret_hash, d.previous_secret_hash)
          const until = Date.parse(d.previous_expires_at)
          if (until > Date.parse(metadata.occurred_at)) graceOld.run(until, d.previous_secret_hash)
          else drop.run(d.previous_secret_hash)
          return
        }
        case 'TokenRevoked':
          dropToken.run(event.data.token_uid)
          return
        default:
      }
    }
  },
}
