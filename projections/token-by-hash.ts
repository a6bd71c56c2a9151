import type { Projection } from '../src/read/projection.js'
import { buffered, ms, unqualified } from '../src/read/projection.js'
import { RowBuffer } from '../src/read/row-buffer.js'

/**
 * What the request authorizer reads: one row per secret that currently opens a token (the
 * current secret, plus a rotated-out one during its grace period), denormalised with everything
 * a decision needs. Revocation deletes the rows, so a revoked token is simply unknown. A rotation
 * also deletes the token's rotated-out rows whose grace ended by then, so a token keeps few rows
 * and its updates touch few.
 *
 * Statements are positional and one per event (three for a rotation): a rebuild runs them a
 * million times.
 */
export const tokenByHash: Projection = {
  name: 'token-by-hash',
  // 2: a rotation purges the rotated-out secrets whose grace is over.
  // 3: a rotation also ends every older rotated-out secret's grace at the latest with the new one's.
  version: 3,
  file: 'read-models',
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
      CREATE INDEX IF NOT EXISTS ${t}_by_token ON ${unqualified(t)} (token_uid);`)
  },
  index() {
    // by_token (above) is all it has, and its own updates need it.
  },
  prepare(db, table) {
    const t = table('token_secrets')
    // A token's rows (arrays in column order, by secret hash) are read once and written once per
    // transaction (RowBuffer): what the token's events in between do happens in memory.
    const read = db.prepare<[string], Row>(`SELECT * FROM ${t} WHERE token_uid = ?`).raw()
    const write = db.prepare(
      `INSERT OR REPLACE INTO ${t} (secret_hash, token_uid, api_key, scope, expires_at, rate_read, rate_write, valid_until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const drop = db.prepare(`DELETE FROM ${t} WHERE secret_hash = ?`)
    const dropToken = db.prepare(`DELETE FROM ${t} WHERE token_uid = ?`)
    const tokens = new RowBuffer<Secrets>(
      (uid) => {
        const rows = read.all(uid)
        return rows.length === 0 ? undefined : { rows: new Map(rows.map((r) => [r[HASH] as string, r])), stored: new Set(rows.map((r) => r[HASH] as string)) }
      },
      (_uid, s) => {
        for (const hash of s.stored) if (!s.rows.has(hash)) drop.run(hash)
        for (const row of s.rows.values()) write.run(row)
      },
      (uid) => dropToken.run(uid),
    )
    /** Sets column `i` of every row of the token. */
    const setAll = (uid: string, i: number, value: string | number | null) => {
      const s = tokens.get(uid)
      if (!s) return
      for (const row of s.rows.values()) row[i] = value
      tokens.changed(uid)
    }
    return buffered(tokens, ({ event, metadata }) => {
      switch (event.type) {
        case 'TokenGenerated': {
          const d = event.data
          const rl = d.rate_limit
          const row: Row = [d.secret_hash, d.token_uid, d.api_key, JSON.stringify(d.scope), ms(d.expires_on), rl === null ? null : rl.read, rl === null ? null : rl.write, null]
          const s = tokens.get(d.token_uid)
          if (s) {
            s.rows.set(d.secret_hash, row)
            tokens.changed(d.token_uid)
          } else tokens.set(d.token_uid, { rows: new Map([[d.secret_hash, row]]), stored: new Set() })
          return
        }
        case 'TokenScopeChanged':
          setAll(event.data.token_uid, SCOPE, JSON.stringify(event.data.scope))
          return
        case 'TokenExpiryChanged':
          setAll(event.data.token_uid, EXPIRES_AT, ms(event.data.expires_on))
          return
        case 'TokenLimitsChanged': {
          const rl = event.data.rate_limit
          setAll(event.data.token_uid, RATE_READ, rl === null ? null : rl.read)
          setAll(event.data.token_uid, RATE_WRITE, rl === null ? null : rl.write)
          return
        }
        case 'TokenRotated': {
          // The new secret gets the old one's row; the old one stays valid until the end of its
          // grace, and so does every secret rotated out before it, at the latest: a rotation with
          // grace G means no earlier secret works after now + G (a grace is never extended, only
          // cut). Rotated-out secrets whose grace is over by now are dropped (the authorizer
          // refuses them anyway), so a token keeps few rows.
          const d = event.data
          const s = tokens.get(d.token_uid)
          if (!s) return
          const until = Date.parse(d.previous_expires_at)
          for (const row of s.rows.values()) if (row[VALID_UNTIL] !== null && (row[VALID_UNTIL] as number) > until) row[VALID_UNTIL] = until
          const previous = s.rows.get(d.previous_secret_hash)
          if (previous) {
            const row = [...previous]
            row[HASH] = d.secret_hash
            row[VALID_UNTIL] = null
            s.rows.set(d.secret_hash, row)
            previous[VALID_UNTIL] = until
          }
          const now = Date.parse(metadata.occurred_at)
          for (const [hash, row] of s.rows) if (row[VALID_UNTIL] !== null && (row[VALID_UNTIL] as number) <= now) s.rows.delete(hash)
          tokens.changed(d.token_uid)
          return
        }
        case 'TokenRevoked':
          tokens.delete(event.data.token_uid)
          return
        default:
      }
    })
  },
}

/** A row of `token_secrets` in column order. */
type Row = Array<string | number | null>
const HASH = 0
const SCOPE = 3
const EXPIRES_AT = 4
const RATE_READ = 5
const RATE_WRITE = 6
const VALID_UNTIL = 7

/** A token's rows by secret hash, and the hashes stored when they were read. */
interface Secrets {
  readonly rows: Map<string, Row>
  readonly stored: Set<string>
}
