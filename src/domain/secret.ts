import * as crypto from 'node:crypto'
import { crc32 } from 'node:zlib'

/**
 * A management token's secret: `cs` and lower-case hex digits. The service issues 32 random
 * digits (128 bits from the CSPRNG) followed by 8 digits of checksum, the CRC-32 (IEEE) of those
 * 32, so that secret scanners recognise a leaked one (`cs[0-9a-f]{40}`, checksum right) with
 * almost no false positives. It recognises 32 to 128 digits, so that the secrets issued before
 * the checksum (32 digits, no checksum) and a longer form issued later are still looked up;
 * anything else is not a secret and never reaches the token table. A secret of the issued
 * length (42 characters) whose checksum is wrong was never issued: it is refused without a
 * lookup (`failsChecksum`). Only the SHA-256 of a secret is kept (`secret_hash`): in events, in
 * `token_secrets`, nowhere else.
 */
export const SECRET_PREFIX = 'cs'
const ISSUED_BYTES = 16
const RANDOM_DIGITS = ISSUED_BYTES * 2
const CHECKSUM_DIGITS = 8
/** The length of every secret issued with a checksum: `cs` + 32 + 8. */
export const CHECKSUMMED_LENGTH = SECRET_PREFIX.length + RANDOM_DIGITS + CHECKSUM_DIGITS
const MIN_DIGITS = 32
const MAX_DIGITS = 128

/** The CRC-32 (IEEE, zlib's) of the random digits, as 8 lower-case hex digits. */
export const checksumOf = (randomDigits: string): string => crc32(randomDigits).toString(16).padStart(CHECKSUM_DIGITS, '0')

/** A new secret and its hash, from `randomBytes` (the service's CSPRNG, or a test's). */
export const newSecret = (randomBytes: (n: number) => Buffer): { secret: string; hash: string } => {
  const digits = randomBytes(ISSUED_BYTES).toString('hex')
  const secret = `${SECRET_PREFIX}${digits}${checksumOf(digits)}`
  return { secret, hash: hashSecret(secret) }
}

const CHECKSUM_AT = SECRET_PREFIX.length + RANDOM_DIGITS
/**
 * Whether a recognised secret (`isSecret`) has the issued length but a wrong checksum: then it
 * was never issued, and no lookup is needed to refuse it. Secrets of any other length (those
 * issued before the checksum have 34 characters) are not judged here.
 */
export const failsChecksum = (secret: string): boolean =>
  secret.length === CHECKSUMMED_LENGTH && checksumAt(secret) !== crc32(secret.slice(SECRET_PREFIX.length, CHECKSUM_AT))

/** The 8 checksum digits (lower-case hex, as isSecret checked) as a number, read in place. */
const checksumAt = (secret: string): number => {
  let v = 0
  for (let i = CHECKSUM_AT; i < CHECKSUMMED_LENGTH; i++) {
    const c = secret.charCodeAt(i)
    v = v * 16 + (c <= 57 /* 9 */ ? c - 48 : c - 87)
  }
  return v
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
