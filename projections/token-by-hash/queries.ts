import type Database from 'better-sqlite3'

/**
 * The authorizer's lookup of a secret (src/authorizer/decide.ts prepares it on its connection):
 * the token it opens, with everything a decision needs, by the secret's SHA-256.
 */
export const SECRET_LOOKUP =
  'SELECT token_uid, api_key, scope, expires_at, rate_read, rate_write, valid_until, allowed_ips FROM token_secrets WHERE secret_hash = ?'

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
