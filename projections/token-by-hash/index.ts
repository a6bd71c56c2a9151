import type { EventOf, Recorded } from '../../src/domain/events.js'
import { allowList } from '../tokens-by-stack/index.js'
import { NONE, replace, type Change, type Current, type Projection, type Table } from '../../src/read/projection.js'

/** A row of `token_secrets`: one secret that opens a token, with everything a decision needs. */
export type SecretRow = {
  readonly secret_hash: string
  readonly token_uid: string
  readonly api_key: string
  /** The scope as JSON. */
  readonly scope: string
  /** ms since epoch, or null: never. */
  readonly expires_at: number | null
  readonly rate_read: number | null
  readonly rate_write: number | null
  /** A rotated-out secret's end of grace (ms since epoch); null for the current secret. */
  readonly valid_until: number | null
  /** When the token was generated (ms since epoch): the stack policy's maximum lifetime counts from it. */
  readonly created_at: number
  /** The allow-list as a JSON array, or null: any address (the authorizer skips the check). */
  readonly allowed_ips: string | null
}

/** Grouped by token: an event of a token reads and replaces all its secrets. */
export const secrets: Table<SecretRow> = {
  name: 'token_secrets',
  columns: {
    secret_hash: 'TEXT PRIMARY KEY',
    token_uid: 'TEXT NOT NULL',
    api_key: 'TEXT NOT NULL',
    scope: 'TEXT NOT NULL',
    expires_at: 'INTEGER',
    rate_read: 'INTEGER',
    rate_write: 'INTEGER',
    valid_until: 'INTEGER',
    created_at: 'INTEGER NOT NULL',
    allowed_ips: 'TEXT',
  },
  key: ['token_uid'],
  indexes: [{ name: 'by_token', on: 'token_uid', forKey: true }],
}

const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso))

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** A copy of a row to change. Listed column by column: spreading one is many times slower, and a rebuild copies rows for most events. */
const copy = (r: SecretRow): Mutable<SecretRow> => ({
  secret_hash: r.secret_hash,
  token_uid: r.token_uid,
  api_key: r.api_key,
  scope: r.scope,
  expires_at: r.expires_at,
  rate_read: r.rate_read,
  rate_write: r.rate_write,
  valid_until: r.valid_until,
  created_at: r.created_at,
  allowed_ips: r.allowed_ips,
})

/** Every secret of the token, with `fields` set (the other columns as they were). */
const setFields = (current: Current, uid: string, fields: Partial<SecretRow>): readonly Change[] => {
  const rows = current.rows(secrets, uid)
  return rows.length === 0 ? NONE : [replace(secrets, uid, rows.map((r) => Object.assign(copy(r), fields)))]
}

/**
 * The new secret takes the old one's row; the old one stays valid until the end of its grace, and
 * so does every secret rotated out before it, at the latest: a rotation with grace G means no
 * earlier secret works after now + G (a grace is never extended, only cut). Rotated-out secrets
 * whose grace is over by now are dropped (the authorizer refuses them anyway), so a token keeps
 * few rows.
 */
const rotated = (current: Current, d: EventOf<'TokenRotated'>['data'], at: string): readonly Change[] => {
  const rows = current.rows(secrets, d.token_uid)
  if (rows.length === 0) return NONE
  const until = Date.parse(d.previous_expires_at)
  const now = Date.parse(at)
  const previous = rows.find((r) => r.secret_hash === d.previous_secret_hash)
  const next: SecretRow[] = []
  for (const r of rows) {
    if (r.secret_hash === d.secret_hash && previous) continue
    const valid_until = r === previous || (r.valid_until !== null && r.valid_until > until) ? until : r.valid_until
    if (valid_until !== null && valid_until <= now) continue
    if (valid_until === r.valid_until) next.push(r)
    else {
      const cut = copy(r)
      cut.valid_until = valid_until
      next.push(cut)
    }
  }
  if (previous) {
    const successor = copy(previous)
    successor.secret_hash = d.secret_hash
    successor.valid_until = null
    next.push(successor)
  }
  return [replace(secrets, d.token_uid, next)]
}

/**
 * A row of `revoked_secrets`: a secret that opened a token when it was revoked. The authorizer
 * reads it only once the lookup in `token_secrets` has missed (a denial), to count the attempt as
 * the revoked token's; nothing that allows a request reads it.
 */
export type RevokedRow = {
  readonly secret_hash: string
  readonly token_uid: string
  readonly api_key: string
  /** When the token was revoked (ms since epoch): the oldest go first beyond the bound. */
  readonly revoked_at: number
}

/** Grouped by stack, so that each revocation can keep its stack's group within the bound. */
export const revokedSecrets: Table<RevokedRow> = {
  name: 'revoked_secrets',
  columns: {
    secret_hash: 'TEXT PRIMARY KEY',
    token_uid: 'TEXT NOT NULL',
    api_key: 'TEXT NOT NULL',
    revoked_at: 'INTEGER NOT NULL',
  },
  key: ['api_key'],
  indexes: [{ name: 'by_stack', on: 'api_key', forKey: true }],
}

/**
 * Revoked secrets kept per stack: those of its most recently revoked tokens. Tokens (and stacks)
 * are never deleted, so without a bound a stack that issues and revokes tokens for every CI run
 * would grow the table for ever; beyond it, an attempt with an older revoked secret is an unknown
 * secret again, as every revoked secret was before this table.
 */
export const REVOKED_PER_STACK = 500

const byRevocation = (a: RevokedRow, b: RevokedRow): number => a.revoked_at - b.revoked_at || (a.secret_hash < b.secret_hash ? -1 : a.secret_hash > b.secret_hash ? 1 : 0)

/**
 * The token's secrets leave `token_secrets` (nothing can open it) for `revoked_secrets`. Replayed,
 * the token has no secrets left and nothing changes. The bound keeps the latest revocations in
 * an order that does not depend on how the group was read, so live and batched apply agree.
 */
const revoked = (current: Current, d: EventOf<'TokenRevoked'>['data'], at: string): readonly Change[] => {
  const rows = current.rows(secrets, d.token_uid)
  if (rows.length === 0) return NONE
  const revoked_at = Date.parse(at)
  const added = new Set(rows.map((r) => r.secret_hash))
  let kept: RevokedRow[] = current.rows(revokedSecrets, d.api_key).filter((r) => !added.has(r.secret_hash))
  for (const r of rows) kept.push({ secret_hash: r.secret_hash, token_uid: d.token_uid, api_key: d.api_key, revoked_at })
  if (kept.length > REVOKED_PER_STACK) kept = kept.sort(byRevocation).slice(-REVOKED_PER_STACK)
  return [replace(secrets, d.token_uid, []), replace(revokedSecrets, d.api_key, kept)]
}

const evolve = (current: Current, { event, metadata }: Recorded): readonly Change[] => {
  switch (event.type) {
    case 'TokenGenerated': {
      const d = event.data
      const rl = d.rate_limit
      const row: SecretRow = {
        secret_hash: d.secret_hash,
        token_uid: d.token_uid,
        api_key: d.api_key,
        scope: JSON.stringify(d.scope),
        expires_at: ms(d.expires_on),
        rate_read: rl === null ? null : rl.read,
        rate_write: rl === null ? null : rl.write,
        valid_until: null,
        created_at: Date.parse(metadata.occurred_at),
        allowed_ips: allowList(d.allowed_ips),
      }
      const others = current.rows(secrets, d.token_uid).filter((r) => r.secret_hash !== d.secret_hash)
      return [replace(secrets, d.token_uid, [...others, row])]
    }
    case 'TokenScopeChanged':
      return setFields(current, event.data.token_uid, { scope: JSON.stringify(event.data.scope) })
    case 'TokenExpiryChanged':
      return setFields(current, event.data.token_uid, { expires_at: ms(event.data.expires_on) })
    case 'TokenLimitsChanged': {
      const rl = event.data.rate_limit
      return setFields(current, event.data.token_uid, { rate_read: rl === null ? null : rl.read, rate_write: rl === null ? null : rl.write })
    }
    case 'TokenAllowedIpsChanged':
      return setFields(current, event.data.token_uid, { allowed_ips: allowList(event.data.allowed_ips) })
    case 'TokenRotated':
      return rotated(current, event.data, metadata.occurred_at)
    case 'RotationGraceEnded': {
      // The current secret is the one row without an end of grace; the rotated-out ones go.
      const rows = current.rows(secrets, event.data.token_uid)
      const kept = rows.filter((r) => r.valid_until === null)
      return kept.length === rows.length ? NONE : [replace(secrets, event.data.token_uid, kept)]
    }
    case 'TokenRevoked':
      return revoked(current, event.data, metadata.occurred_at)
    default:
      return NONE
  }
}

/**
 * What the request authorizer reads: one row per secret that currently opens a token (the
 * current secret, plus a rotated-out one during its grace period), denormalised with everything
 * a decision needs. Revocation moves the rows to `revoked_secrets` (the secret and its token
 * only), so a revoked token is unknown to every lookup that can allow; ending a rotation's grace
 * deletes the rotated-out secrets. A rotation
 * also deletes the token's rotated-out rows whose grace ended by then, so a token keeps few rows
 * and its updates touch few.
 */
export const tokenByHash: Projection = {
  name: 'token-by-hash',
  // 2: a rotation purges the rotated-out secrets whose grace is over.
  // 3: a rotation also ends every older rotated-out secret's grace at the latest with the new one's.
  // 4: RotationGraceEnded drops the rotated-out secrets at once.
  // 5: each row has its token's creation time (created_at), for the stack policy's lifetime.
  // 6: allowed_ips.
  // 7: revoked_secrets.
  version: 7,
  file: 'read-models',
  tables: [secrets as Table, revokedSecrets as Table],
  handles: new Set(['TokenGenerated', 'TokenScopeChanged', 'TokenExpiryChanged', 'TokenLimitsChanged', 'TokenAllowedIpsChanged', 'TokenRotated', 'RotationGraceEnded', 'TokenRevoked']),
  evolve,
}
