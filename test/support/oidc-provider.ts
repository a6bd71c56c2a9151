import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider, { type JWK } from 'oidc-provider'
import type { Test } from 'tap'

/**
 * A real OpenID Provider (`oidc-provider`) on 127.0.0.1 and an ephemeral port, for the console's
 * sign-in tests (the server side's, and the browser suite's). It has one client that must use
 * PKCE, and test accounts signed in by email through a tiny interaction page:
 *   GET  /interaction/:uid   a form with one field, `email` (labelled), and a "Sign in" button
 *   POST /interaction/:uid   `email=...` (form-encoded): login and consent in one step
 * The provider is built on its first request, so `redirectUris` may be a function that returns
 * the service's callback URL once the service listens.
 */
export interface OidcAccount {
  readonly sub: string
  /** Without one, the id_token carries no email (sign in with the sub instead). */
  readonly email?: string
  /** The `email_verified` claim (default true). */
  readonly emailVerified?: boolean
}

export interface OidcProviderOptions {
  readonly clientId?: string
  /** Without one the client is public (`token_endpoint_auth_method: none`). */
  readonly clientSecret?: string
  readonly redirectUris: readonly string[] | (() => readonly string[])
  readonly accounts?: readonly OidcAccount[]
  /** id_token lifetime in seconds (default 3600). */
  readonly idTokenTtl?: number
}

export interface TestOidcProvider {
  /** `http://127.0.0.1:PORT`: the issuer identifier and base URL. */
  readonly issuer: string
  readonly clientId: string
  readonly accounts: readonly OidcAccount[]
  /** The `kid` the provider signs id_tokens with now. */
  readonly kid: () => string
  /** How many times the JWKS document was fetched. */
  readonly jwksRequests: () => number
  /** Replaces the signing key by a new one with a new `kid` (the old one is no longer published). */
  rotateKeys(): void
  /**
   * Drives the whole authorization code flow as a browser would, from the authorization URL the
   * service redirected to, through the interaction page, to the provider's redirect back:
   * returns that callback URL (with `code` and `state`).
   */
  signIn(authorizationUrl: string, email: string): Promise<URL>
}

export const TEST_ACCOUNT: { readonly sub: string; readonly email: string } = { sub: 'op-user-1', email: 'oidc.user@example.com' }

const signingKey = (): JWK => {
  const kid = `k-${randomBytes(6).toString('hex')}`
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
  return { ...jwk, kid, alg: 'RS256', use: 'sig' } as JWK
}

const page = (body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head><body>${body}</body></html>`

const readForm = async (req: IncomingMessage): Promise<URLSearchParams> => {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

export const startOidcProvider = async (t: Test, o: OidcProviderOptions): Promise<TestOidcProvider> => {
  const clientId = o.clientId ?? 'management-console'
  const accounts: readonly OidcAccount[] = o.accounts ?? [TEST_ACCOUNT]
  let keys = [signingKey()]
  let jwksRequests = 0
  let built: Provider | undefined
  let issuer = ''

  const build = (): Provider => {
    const redirectUris = typeof o.redirectUris === 'function' ? o.redirectUris() : o.redirectUris
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          ...(o.clientSecret ? { client_secret: o.clientSecret, token_endpoint_auth_method: 'client_secret_post' } : { token_endpoint_auth_method: 'none' }),
          redirect_uris: [...redirectUris],
          response_types: ['code'],
          grant_types: ['authorization_code'],
        },
      ],
      jwks: { keys },
      pkce: { required: () => true },
      features: { devInteractions: { enabled: false } },
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      claims: { openid: ['sub'], email: ['email', 'email_verified'] },
      // Put the email in the id_token itself: it is the console's authtoken.
      conformIdTokenClaims: false,
      ttl: { IdToken: o.idTokenTtl ?? 3600 },
      cookies: { keys: [randomBytes(16).toString('hex')] },
      findAccount: (_ctx, sub) => {
        const account = accounts.find((a) => a.sub === sub)
        return account && { accountId: sub, claims: () => (account.email ? { sub, email: account.email, email_verified: account.emailVerified ?? true } : { sub }) }
      },
    })
    return provider
  }

  const interaction = async (provider: Provider, req: IncomingMessage, res: ServerResponse) => {
    const details = await provider.interactionDetails(req, res)
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(
        page(
          `<h1>Sign in to the test provider</h1><form method="post" action="/interaction/${details.uid}">` +
            '<label for="email">Email</label> <input id="email" name="email" type="email" required> ' +
            '<button type="submit">Sign in</button></form>',
        ),
      )
      return
    }
    const email = (await readForm(req)).get('email')?.trim().toLowerCase()
    const account = accounts.find((a) => a.email === email || a.sub === email)
    if (!account) {
      res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' })
      res.end(page('<p>Unknown account.</p>'))
      return
    }
    const grant = new provider.Grant({ accountId: account.sub, clientId })
    grant.addOIDCScope(String(details.params.scope ?? 'openid'))
    const grantId = await grant.save()
    await provider.interactionFinished(req, res, { login: { accountId: account.sub }, consent: { grantId } }, { mergeWithLastSubmission: false })
  }

  const server = createServer((req, res) => {
    built ??= build()
    const provider = built
    if (req.url?.startsWith('/interaction/')) {
      interaction(provider, req, res).catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(String(e))
      })
      return
    }
    if (req.url?.startsWith('/jwks')) jwksRequests += 1
    provider.callback()(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )

  return {
    issuer,
    clientId,
    accounts,
    kid: () => keys[0]?.kid as string,
    jwksRequests: () => jwksRequests,
    rotateKeys() {
      keys = [signingKey()]
      built = undefined
    },
    async signIn(authorizationUrl, email) {
      // A browser's cookie jar for the provider's origin, and redirects followed by hand.
      const jar = new Map<string, string>()
      // Bounded and read to the end, so a provider that never answers fails the test with its URL
      // instead of holding the file until tap's timeout kills it without a word.
      const send = async (url: string, init: RequestInit = {}) => {
        let res: Response
        let body: string
        try {
          res = await fetch(url, {
            ...init,
            signal: AbortSignal.timeout(20_000),
            redirect: 'manual',
            headers: { ...(init.headers as Record<string, string>), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
          })
          body = await res.text()
        } catch (e) {
          throw new Error(`the provider did not answer ${init.method ?? 'GET'} ${url}: ${String(e)}`)
        }
        for (const c of res.headers.getSetCookie()) {
          const [pair] = c.split(';')
          const at = (pair as string).indexOf('=')
          jar.set((pair as string).slice(0, at).trim(), (pair as string).slice(at + 1))
        }
        return { status: res.status, location: res.headers.get('location'), body }
      }
      let url = authorizationUrl
      let res = await send(url)
      for (let hops = 0; hops < 10; hops += 1) {
        if (res.status === 200 && new URL(url).pathname.startsWith('/interaction/')) {
          res = await send(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ email }).toString(),
          })
          continue
        }
        const { location } = res
        if (res.status < 300 || res.status >= 400 || !location) throw new Error(`the provider answered ${res.status} at ${url}: ${res.body}`)
        const next = new URL(location, url)
        if (next.origin !== issuer) return next
        url = next.href
        res = await send(url)
      }
      throw new Error('too many redirects at the provider')
    },
  }
}
