import type Database from 'better-sqlite3'

/**
 * The authorizer's lookup of a secret (src/authorizer/decide.ts prepares it on its connection):
 * the token it opens, with everything a decision needs, by the secret's SHA-256, and its stack's
 * maximum token lifetime (stack_policies, null without one). The authorizer caches the answer and
 * drops its cache when the read models change, so a policy change is seen from the next request.
 */
export const SECRET_LOOKUP = `SELECT s.token_uid, s.api_key, s.scope, s.expires_at, s.rate_read, s.rate_write, s.valid_until, s.created_at,
  s.allowed_ips, p.max_lifetime_days FROM token_secrets s LEFT JOIN stack_policies p ON p.api_key = s.api_key WHERE s.secret_hash = ?`

/**
 * The revoked token a secret of this stack opened, by the secret's SHA-256 and the stack's
 * `api_key` (`revoked_secrets`): read by the authorizer only after SECRET_LOOKUP found nothing,
 * to count the attempt as that token's.
 */
export const REVOKED_LOOKUP = 'SELECT token_uid FROM revoked_secrets WHERE secret_hash = ? AND api_key = ?'

/** A live secret's token, by the secret's SHA-256: `valid_until` (ms) ends a rotated-out secret's grace. */
export interface SecretOwner {
  readonly token_uid: string
  readonly api_key: string
  readonly valid_until: number | null
}

/** The leaked-secret report's lookup, on the management API's connection. */
export const secretQueries = (db: Database.Database) => {
  const owner = db.prepare<[string], SecretOwner>('SELECT token_uid, api_key, valid_until FROM token_secrets WHERE secret_hash = ?')
  return { secretOwner: (hash: string): SecretOwner | undefined => owner.get(hash) }
}
