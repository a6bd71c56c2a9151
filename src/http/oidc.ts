import * as client from 'openid-client'

export interface OidcSettings {
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret?: string | undefined
}

/** What a sign-in in progress must remember until the identity provider sends the browser back. */
export interface PendingSignIn {
  readonly codeVerifier: string
  readonly state: string
  readonly nonce: string
  readonly redirectUri: string
}

/** The console as an OpenID Connect relying party: authorization code flow with PKCE (openid-client). */
export interface RelyingParty {
  /** The issuer's metadata, discovered on first use (and again after a failed discovery). */
  metadata(): Promise<{ readonly issuer: string; readonly jwks_uri: string }>
  /** Where to send the browser, and what to remember for the callback. */
  begin(redirectUri: string): Promise<{ readonly url: string; readonly pending: PendingSignIn }>
  /** Exchanges the callback's code (checking state, nonce and the PKCE verifier) for the id_token. */
  finish(callbackUrl: URL, pending: PendingSignIn): Promise<string>
}

export const createRelyingParty = (s: OidcSettings): RelyingParty => {
  let discovered: Promise<client.Configuration> | undefined
  const configuration = () =>
    (discovered ??= client
      .discovery(new URL(s.issuer), s.clientId, s.clientSecret, s.clientSecret === undefined ? client.None() : undefined, {
        // Config allows http only for a loopback issuer (a local or test provider).
        ...(new URL(s.issuer).protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
        timeout: 10,
      })
      .catch((e: unknown) => {
        discovered = undefined
        throw e
      }))
  return {
    async metadata() {
      const m = (await configuration()).serverMetadata()
      if (typeof m.jwks_uri !== 'string') throw new Error(`the issuer ${m.issuer} publishes no jwks_uri`)
      return { issuer: m.issuer, jwks_uri: m.jwks_uri }
    },
    async begin(redirectUri) {
      const config = await configuration()
      const pending = {
        codeVerifier: client.randomPKCECodeVerifier(),
        state: client.randomState(),
        nonce: client.randomNonce(),
        redirectUri,
      }
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email',
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
      })
      return { url: url.href, pending }
    },
    async finish(callbackUrl, pending) {
      const tokens = await client.authorizationCodeGrant(await configuration(), callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      })
      return tokens.id_token as string
    },
  }
}
