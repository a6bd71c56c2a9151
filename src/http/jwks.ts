import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose'
import type { Config } from '../config.js'
import { unauthorized, unavailable, type HttpError } from './errors.js'

/** Where an issuer's keys are and which `iss`/`aud` its tokens must carry. */
export interface JwksTarget {
  readonly jwksUri: string
  readonly issuer: string
  readonly audience: string
}

export interface JwksOptions {
  /** Resolved on first use (OIDC discovery may need the identity provider to be up); retried after a failure. */
  readonly target: () => Promise<JwksTarget>
  /** The service clock, for exp and nbf. */
  readonly now: () => Date
  /**
   * An unknown `kid` refetches the key set at most once per this many ms (jose's cooldown), so a
   * flood of forged kids cannot turn into a flood of requests to the identity provider.
   */
  readonly cooldownMs?: number
}

/** Asymmetric algorithms only: a key set never verifies an HS256 token signed with a public key as the secret. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']

export type JwksResult = { readonly claims: JWTPayload } | { readonly error: HttpError }

export interface JwksVerifier {
  /** Verifies signature, `iss`, `aud`, `exp` and `nbf`; never throws. */
  verify(token: string): Promise<JwksResult>
}

/** Problems with the identity provider, not with the token: the caller may retry. */
const isUnreachable = (e: unknown): boolean =>
  e instanceof errors.JWKSTimeout ||
  (e instanceof errors.JOSEError && (e.code === 'ERR_JOSE_GENERIC' || e.code === 'ERR_JWKS_INVALID')) ||
  e instanceof TypeError

const reasonOf = (e: unknown): string => {
  if (e instanceof errors.JWTExpired) return 'is expired'
  if (e instanceof errors.JWTClaimValidationFailed) return `has a wrong ${e.claim}`
  if (e instanceof errors.JWKSNoMatchingKey) return "is signed with a key the identity provider does not publish"
  return 'is invalid'
}

/** Verifies authtokens against an issuer's JSON Web Key Set, refetched when a new `kid` appears. */
export const createJwksVerifier = (o: JwksOptions): JwksVerifier => {
  let ready: Promise<{ keys: ReturnType<typeof createRemoteJWKSet>; target: JwksTarget }> | undefined
  const keySet = () =>
    (ready ??= o.target().then(
      (target) => ({ target, keys: createRemoteJWKSet(new URL(target.jwksUri), { cooldownDuration: o.cooldownMs ?? 30_000 }) }),
      (e: unknown) => {
        ready = undefined
        throw e
      },
    ))
  return {
    async verify(token) {
      const unreachable = { error: unavailable("The identity provider's keys could not be fetched; try again shortly.") }
      let resolved: Awaited<ReturnType<typeof keySet>>
      try {
        resolved = await keySet()
      } catch {
        return unreachable
      }
      const { keys, target } = resolved
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: target.issuer,
          audience: target.audience,
          algorithms: ALGORITHMS,
          currentDate: o.now(),
        })
        // Membership is keyed by email: an address the provider has not verified could be anyone's.
        if (payload.email_verified === false)
          return { error: unauthorized("The authtoken's email is not verified by the identity provider.", { authtoken: ['has an unverified email'] }) }
        return { claims: payload }
      } catch (e) {
        if (isUnreachable(e)) return unreachable
        return { error: unauthorized(`The authtoken ${reasonOf(e)}.`, { authtoken: [reasonOf(e)] }) }
      }
    },
  }
}

/** The key set to verify authtokens with, if any: AUTH_JWKS_URL, or the one the OIDC issuer's metadata names. */
export const jwksTargetOf = (
  config: Config,
  metadata: (() => Promise<{ readonly issuer: string; readonly jwks_uri: string }>) | undefined,
): (() => Promise<JwksTarget>) | undefined => {
  const audience = config.jwtAudience ?? config.oidcClientId
  if (audience === undefined || (!config.jwksUrl && !metadata)) return undefined
  const { jwksUrl, jwtIssuer } = config
  // Config guarantees AUTH_JWT_ISSUER with AUTH_JWKS_URL unless there is an OIDC issuer to discover.
  if (jwksUrl && jwtIssuer) return async () => ({ jwksUri: jwksUrl, issuer: jwtIssuer, audience })
  const discover = metadata as NonNullable<typeof metadata>
  return async () => {
    const m = await discover()
    return { jwksUri: jwksUrl ?? m.jwks_uri, issuer: jwtIssuer ?? m.issuer, audience }
  }
}
