import type { Config } from '../config.js'
import { resolveJwtKey } from './auth.js'
import { createJwksVerifier, jwksTargetOf, type JwksVerifier } from './jwks.js'
import { createRelyingParty, type RelyingParty } from './oidc.js'

/**
 * How people sign in to the console (issue 12): `development` mints authtokens from an email
 * (DEV_SIGNIN=true, and no JWT settings at all), `oidc` signs in with the identity provider,
 * `external` takes an authtoken from elsewhere (a secret, a public key, a key set without an OIDC
 * client, or the CLI's `authtoken` with the local development secret).
 */
export type SignInMode = 'development' | 'oidc' | 'external'

export const signInMode = (config: Config): SignInMode => {
  if (config.oidcIssuerUrl && config.oidcClientId) return 'oidc'
  // Configuration refuses DEV_SIGNIN beside a JWT setting; a key still wins if one gets here.
  if (config.jwtSecret || config.jwtPublicKey || config.oidcIssuerUrl || config.jwksUrl || !config.devSignIn) return 'external'
  return 'development'
}

/** The console's address as printed at start-up: PUBLIC_URL, else where the server listens. */
export const consoleUrl = (config: Config, listening: string): string => `${config.publicUrl ?? listening}/console/`

export interface SignIn {
  readonly mode: SignInMode
  /** The identity provider's key set, with OIDC or AUTH_JWKS_URL. */
  readonly jwks: JwksVerifier | undefined
  /** With OIDC: the relying party, and the verifier its id_tokens must pass as authtokens. */
  readonly oidc: { readonly rp: RelyingParty; readonly jwks: JwksVerifier } | undefined
  /** In development mode only (DEV_SIGNIN): the secret `POST /v3/user-session` mints authtokens with. */
  readonly developmentSecret: string | undefined
}

/** Everything sign-in needs, from the configuration; nothing touches the network until first use. */
export const signInOf = (config: Config, clock: () => Date, jwksCooldownMs?: number): SignIn => {
  const mode = signInMode(config)
  const rp =
    config.oidcIssuerUrl && config.oidcClientId
      ? createRelyingParty({ issuer: config.oidcIssuerUrl, clientId: config.oidcClientId, clientSecret: config.oidcClientSecret })
      : undefined
  const target = jwksTargetOf(config, rp && (() => rp.metadata()))
  const jwks = target && createJwksVerifier({ target, now: clock, cooldownMs: jwksCooldownMs })
  const key = mode === 'development' ? resolveJwtKey(config) : undefined
  return {
    mode,
    jwks,
    oidc: rp && jwks ? { rp, jwks } : undefined,
    developmentSecret: key && 'secret' in key ? key.secret : undefined,
  }
}
