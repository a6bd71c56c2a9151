import type { Config } from '../config.js'

/**
 * How people sign in to the console (issue 12): `development` mints authtokens from an email
 * (no JWT settings at all), `oidc` signs in with the identity provider, `external` takes an
 * authtoken from elsewhere (a secret, a public key or a key set without an OIDC client).
 */
export type SignInMode = 'development' | 'oidc' | 'external'

export const signInMode = (config: Config): SignInMode => {
  if (config.oidcIssuerUrl && config.oidcClientId) return 'oidc'
  if (config.jwtSecret || config.jwtPublicKey || config.oidcIssuerUrl || config.jwksUrl) return 'external'
  return 'development'
}

/** The console's address as printed at start-up: PUBLIC_URL, else where the server listens. */
export const consoleUrl = (config: Config, listening: string): string => `${config.publicUrl ?? listening}/console/`
