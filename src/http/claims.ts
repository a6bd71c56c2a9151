import * as E from 'fp-ts/lib/Either.js'
import type { Actor } from '../domain/commands.js'
import { canonicalEmail, emailProblem } from '../domain/email.js'

/** Clock difference tolerated between the identity provider and this service. */
export const CLOCK_SKEW_SECONDS = 60
/** The longest an authtoken may be valid from now: a longer `exp` is a mistake or an attack. */
export const MAX_AUTHTOKEN_LIFETIME_SECONDS = 31 * 24 * 3600
const MAX_SUB_LENGTH = 255

/** Why a verified authtoken's claims are refused: the 401's message and its `authtoken` entry. */
export interface ClaimProblem {
  readonly message: string
  readonly problem: string
}

const refuse = (message: string, problem: string): E.Either<ClaimProblem, never> => E.left({ message, problem })
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * The checks every authtoken's claims go through once its signature is verified, whichever key
 * source verified it (shared secret, public key, or an issuer's JWKS): the times, the subject,
 * and the email in its one canonical form (src/domain/email.ts). `now` is the verifier's clock.
 */
export const claimsOf = (payload: unknown, now: Date): E.Either<ClaimProblem, Actor> => {
  const claims = (payload ?? {}) as Record<string, unknown>
  const nowSeconds = now.getTime() / 1000
  const { sub, email } = claims
  if (typeof sub !== 'string' || typeof email !== 'string') return refuse('The authtoken lacks sub or email.', 'lacks sub or email')
  if (!isTime(claims.exp)) return refuse('The authtoken has no valid expiry (exp).', 'lacks a finite exp')
  if (claims.exp <= nowSeconds) return refuse('The authtoken is invalid or expired.', 'is expired')
  if (claims.exp > nowSeconds + MAX_AUTHTOKEN_LIFETIME_SECONDS)
    return refuse('The authtoken expires too far in the future.', `exp is more than ${MAX_AUTHTOKEN_LIFETIME_SECONDS / 86400} days ahead`)
  for (const claim of ['iat', 'nbf'] as const) {
    const v = claims[claim]
    if (v === undefined) continue
    if (!isTime(v)) return refuse(`The authtoken's ${claim} is not a time.`, `${claim} is not a finite number`)
    if (v > nowSeconds + CLOCK_SKEW_SECONDS) return refuse(`The authtoken's ${claim} is in the future.`, `${claim} is in the future`)
  }
  if (sub.trim().length === 0 || sub.length > MAX_SUB_LENGTH) return refuse('The authtoken has an empty or overlong sub.', 'has an invalid sub')
  const canonical = canonicalEmail(email)
  const problem = emailProblem(email)
  if (problem !== undefined) return refuse(`The authtoken's email ${problem}.`, `email ${problem}`)
  return E.right({ uid: sub, email: canonical })
}
