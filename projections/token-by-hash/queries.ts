/**
 * The authorizer's lookup of a secret (src/authorizer/decide.ts prepares it on its connection):
 * the token it opens, with everything a decision needs, by the secret's SHA-256.
 */
export const SECRET_LOOKUP =
  'SELECT token_uid, api_key, scope, expires_at, rate_read, rate_write, valid_until FROM token_secrets WHERE secret_hash = ?'
