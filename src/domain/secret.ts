import * as crypto from 'node:crypto'

/**
 * A management token's secret: `cs` and lower-case hex digits. The service issues 32 digits
 * (128 bits from the CSPRNG) and recognises 32 to 128, so that a longer secret issued later is
 * still looked up; anything else is not a secret and never reaches the token table. Only the
 * SHA-256 of a secret is kept (`secret_hash`): in events, in `token_secrets`, nowhere else.
 */
export const SECRET_PREFIX = 'cs'
const ISSUED_BYTES = 16
const MIN_DIGITS = 32
const MAX_DIGITS = 128

/** A new secret and its hash, from `randomBytes` (the service's CSPRNG, or a test's). */
export const newSecret = (randomBytes: (n: number) => Buffer): { secret: string; hash: string } => {
  const secret = `${SECRET_PREFIX}${randomBytes(ISSUED_BYTES).toString('hex')}`
  return { secret, hash: hashSecret(secret) }
}

/** One-shot `crypto.hash` (Node >= 20.12) creates no Hash object: the authorizer hashes every request's secret. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash
export const hashSecret: (secret: string) => string = oneShot
  ? (secret) => oneShot('sha256', secret, 'hex')
  : /* c8 ignore next */ (secret) => crypto.createHash('sha256').update(secret).digest('hex')

/** Whether `s` from `start` to `end` is a secret; read in place, without a copy (the authorizer's hot path). */
const isSecretAt = (s: string, start: number, end: number): boolean => {
  const length = end - start
  if (length < SECRET_PREFIX.length + MIN_DIGITS || length > SECRET_PREFIX.length + MAX_DIGITS) return false
  if (s.charCodeAt(start) !== 99 /* c */ || s.charCodeAt(start + 1) !== 115 /* s */) return false
  for (let i = start + 2; i < end; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}

export const isSecret = (s: string): boolean => isSecretAt(s, 0, s.length)

const BEARER = 'bearer '
/** The secret of an `authorization` value (`Bearer <secret>` or the secret alone, spaces around it ignored), or undefined. */
export const secretOf = (authorization: string): string | undefined => {
  const start = authorization.length > 7 && (authorization.startsWith('Bearer ') || authorization.slice(0, 7).toLowerCase() === BEARER) ? 7 : 0
  // Checked in place, without a copy, when nothing is to be trimmed (a secret starts with c and ends with a digit).
  if (isSecretAt(authorization, start, authorization.length)) return start === 0 ? authorization : authorization.slice(start)
  const secret = authorization.slice(start).trim()
  return isSecret(secret) ? secret : undefined
}
