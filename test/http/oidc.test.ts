import { generateKeyPairSync } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { createSigner } from 'fast-jwt'
import t, { type Test } from 'tap'
import type { Config } from '../../src/config.js'
import { startApp, type TestApp } from '../support/app.js'
import { startOidcProvider, TEST_ACCOUNT, type TestOidcProvider } from '../support/oidc-provider.js'

/** The service's external URL: requests reach it through inject, so it need not resolve. */
const PUBLIC_URL = 'http://console.test'
const CALLBACK = `${PUBLIC_URL}/console/auth/callback`

interface Setup {
  readonly a: TestApp
  readonly op: TestOidcProvider
}

const NO_EMAIL = { sub: 'op-user-without-email' }
const UNVERIFIED = { sub: 'op-user-unverified', email: 'owner@example.com', emailVerified: false }

const setup = async (t: Test, o: { clientSecret?: string; config?: Partial<Config>; cooldownMs?: number } = {}): Promise<Setup> => {
  const op = await startOidcProvider(t, {
    redirectUris: [CALLBACK],
    accounts: [TEST_ACCOUNT, NO_EMAIL, UNVERIFIED],
    ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
  })
  const a = await startApp(t, {
    config: {
      jwtSecret: undefined,
      oidcIssuerUrl: op.issuer,
      oidcClientId: op.clientId,
      oidcClientSecret: o.clientSecret,
      publicUrl: PUBLIC_URL,
      ...o.config,
    },
    appOptions: { jwksCooldownMs: o.cooldownMs ?? 0 },
  })
  return { a, op }
}

const cookieOf = (res: LightMyRequestResponse, name: string): string | undefined => {
  const all = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  return all.find((c) => c.startsWith(`${name}=`))
}
const valueOf = (cookie: string | undefined) => cookie?.split(';')[0]
/** A JWT's header or payload, decoded (no verification). */
const part = (jwt: string, i: 0 | 1) => JSON.parse(Buffer.from(jwt.split('.')[i] as string, 'base64url').toString()) as Record<string, unknown>

/** The browser's side: console login -> provider -> callback -> session. */
const signIn = async (t: Test, { a, op }: Setup, email = TEST_ACCOUNT.email) => {
  const login = await a.app.inject({ method: 'GET', url: '/console/auth/login' })
  t.equal(login.statusCode, 302, login.body)
  const pending = cookieOf(login, 'mt_console_signin')
  const authorize = new URL(String(login.headers.location))
  const callback = await op.signIn(authorize.href, email)
  const back = await a.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie: valueOf(pending) ?? '' } })
  const sessionCookie = cookieOf(back, 'mt_console_session')
  const session = await a.app.inject({ method: 'POST', url: '/console/auth/session', headers: { cookie: valueOf(sessionCookie) ?? '' } })
  return { login, pending, authorize, callback, back, sessionCookie, session }
}

t.test('OIDC sign-in against a real provider: code + PKCE, the id_token becomes the authtoken', async (t) => {
  const s = await setup(t)
  const { login, pending, authorize, callback, back, sessionCookie, session } = await signIn(t, s)

  t.equal(authorize.origin, s.op.issuer, 'the login redirects to the provider')
  t.equal(authorize.searchParams.get('client_id'), s.op.clientId)
  t.equal(authorize.searchParams.get('redirect_uri'), CALLBACK, 'PUBLIC_URL builds the redirect URI')
  t.equal(authorize.searchParams.get('response_type'), 'code')
  t.equal(authorize.searchParams.get('code_challenge_method'), 'S256')
  t.match(authorize.searchParams.get('code_challenge'), /^[\w-]{43}$/)
  t.match(authorize.searchParams.get('state'), /^[\w-]{20,}$/)
  t.match(authorize.searchParams.get('nonce'), /^[\w-]{20,}$/)
  t.match(authorize.searchParams.get('scope'), /\bopenid\b.*\bemail\b/)
  t.match(pending, /^mt_console_signin=[\w-]{43}; Max-Age=600; Path=\/console\/auth\/callback; HttpOnly; SameSite=Lax$/)
  t.equal(login.headers['cache-control'], 'no-store')
  t.equal(`${callback.origin}${callback.pathname}`, CALLBACK, 'the provider sends the browser back to the callback')
  t.ok(callback.searchParams.get('code'))

  t.equal(back.statusCode, 302, back.body)
  t.equal(back.headers.location, '/console/')
  t.match(sessionCookie, /^mt_console_session=[\w-]{43}; Max-Age=\d+; Path=\/console\/auth; HttpOnly; SameSite=Strict$/)
  t.notMatch(String(back.headers['set-cookie']), /eyJ/, 'the id_token stays on the server')
  t.equal(session.statusCode, 200, session.body)
  const { authtoken, email, expires_at } = session.json()
  t.equal(email, TEST_ACCOUNT.email)
  t.match(authtoken, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/)
  const claims = part(authtoken, 1)
  t.match(claims, { iss: s.op.issuer, aud: s.op.clientId, sub: TEST_ACCOUNT.sub, email: TEST_ACCOUNT.email })
  t.equal(expires_at, new Date((claims.exp as number) * 1000).toISOString())
  t.equal(part(authtoken, 0).kid, s.op.kid())

  const created = await s.a.app.inject({ method: 'POST', url: '/v3/stacks', headers: { authtoken }, payload: { stack: { name: 'Signed in' } } })
  t.equal(created.statusCode, 201, `the service accepts the id_token as authtoken: ${created.body}`)
  t.equal(created.json().stack.owner_uid, TEST_ACCOUNT.sub)
  const mine = await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken } })
  t.same(mine.json().stacks.map((x: { name: string; role: string }) => [x.name, x.role]), [['Signed in', 'owner']])

  const replay = await s.a.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie: valueOf(pending) ?? '' } })
  t.equal(replay.headers.location, '/console/?signin_error=expired', 'a pending sign-in is good for one callback')

  const out = await s.a.app.inject({ method: 'POST', url: '/console/auth/logout', headers: { cookie: valueOf(sessionCookie) ?? '' } })
  t.equal(out.statusCode, 200)
  const after = await s.a.app.inject({ method: 'POST', url: '/console/auth/session', headers: { cookie: valueOf(sessionCookie) ?? '' } })
  t.equal(after.statusCode, 401, 'signed out: the session is gone')

  const logs = s.a.logLines.join('\n')
  t.notMatch(logs, authtoken, 'the id_token is never logged')
  t.notMatch(logs, callback.searchParams.get('code') as string, 'nor the code')
})

t.test('a confidential client (OIDC_CLIENT_SECRET) signs in the same way', async (t) => {
  const s = await setup(t, { clientSecret: 'a-client-secret-of-some-length' })
  const { back, session } = await signIn(t, s)
  t.equal(back.headers.location, '/console/')
  t.equal(session.statusCode, 200)
  t.notMatch(s.a.logLines.join('\n'), 'a-client-secret-of-some-length')
})

t.test('callback failures return to the console with a reason, and sign nobody in', async (t) => {
  const s = await setup(t)
  const callback = (query: string, cookie = '') => s.a.app.inject({ method: 'GET', url: `/console/auth/callback${query}`, headers: { cookie } })
  const noCookie = await callback('?code=x&state=y')
  t.equal(noCookie.statusCode, 302)
  t.equal(noCookie.headers.location, '/console/?signin_error=expired', 'no pending sign-in in this browser')
  t.notOk(cookieOf(noCookie, 'mt_console_session'))

  const started = async () => valueOf(cookieOf(await s.a.app.inject({ method: 'GET', url: '/console/auth/login' }), 'mt_console_signin')) as string
  const denied = await callback('?error=access_denied&state=y', await started())
  t.equal(denied.headers.location, '/console/?signin_error=denied')
  const forged = await callback('?code=forged&state=wrong', await started())
  t.equal(forged.headers.location, '/console/?signin_error=failed', 'state mismatch')

  // A real code, but the state of another sign-in: refused before the code is spent.
  const first = await s.a.app.inject({ method: 'GET', url: '/console/auth/login' })
  const real = await s.op.signIn(String(first.headers.location), TEST_ACCOUNT.email)
  const crossed = await callback(real.search, await started())
  t.equal(crossed.headers.location, '/console/?signin_error=failed')
  t.notOk(cookieOf(crossed, 'mt_console_session'))

  const noEmail = await signIn(t, s, NO_EMAIL.sub)
  t.equal(noEmail.back.headers.location, '/console/?signin_error=failed', 'an id_token without email cannot be an authtoken')
  t.notOk(noEmail.sessionCookie)
  t.match(s.a.logLines.join('\n'), /lacks sub or email/)
  const unverified = await signIn(t, s, UNVERIFIED.sub)
  t.equal(unverified.back.headers.location, '/console/?signin_error=failed', 'an email the provider has not verified is nobody')
  t.match(s.a.logLines.join('\n'), /not verified/)

  // An id_token the service would refuse as authtoken (here: another audience expected) signs nobody in.
  const strict = await setup(t, { config: { jwtAudience: 'another-api' } })
  const refused = await signIn(t, strict)
  t.equal(refused.back.headers.location, '/console/?signin_error=failed')
  t.equal(refused.session.statusCode, 401)
})

t.test('key rotation: a new kid is fetched and accepted; an unknown kid is refused', async (t) => {
  const s = await setup(t)
  const before = (await signIn(t, s)).session.json().authtoken as string
  const ok = async (authtoken: string) => (await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken } })).statusCode
  t.equal(await ok(before), 200)
  const fetchedBefore = s.op.jwksRequests()
  t.ok(fetchedBefore >= 1, 'the key set was fetched from the discovered jwks_uri')
  t.equal(await ok(before), 200)
  t.equal(s.op.jwksRequests(), fetchedBefore, 'a known kid needs no fetch')

  const oldKid = s.op.kid()
  s.op.rotateKeys()
  t.not(s.op.kid(), oldKid)
  const { session } = await signIn(t, s)
  t.equal(session.statusCode, 200, 'sign-in works with the new key')
  const after = session.json().authtoken as string
  t.equal(part(after, 0).kid, s.op.kid())
  t.equal(s.op.jwksRequests(), fetchedBefore + 1, 'the unknown kid made the service fetch the key set once')
  t.equal(await ok(after), 200, 'a token with the new kid is accepted')

  const stale = await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: before } })
  t.equal(stale.statusCode, 401, 'the old key is no longer published: its tokens are refused')
  t.same(stale.json().errors, { authtoken: ['is signed with a key the identity provider does not publish'] })

  const forger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const claims = part(after, 1)
  const sign = (kid: string) => createSigner({ key: forger, algorithm: 'RS256', kid })({ ...claims })
  const unknown = await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: sign('never-published') } })
  t.equal(unknown.statusCode, 401, 'a token signed by a still-unknown kid is refused')
  t.equal(unknown.json().error_code, 105)
  const usurper = await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: sign(s.op.kid()) } })
  t.equal(usurper.statusCode, 401, 'a published kid with a forged signature is refused')
})

t.test('unknown kids refetch at most once per cooldown', async (t) => {
  const s = await setup(t, { cooldownMs: 60_000 })
  const good = (await signIn(t, s)).session.json().authtoken as string
  const fetched = s.op.jwksRequests()
  const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const claims = part(good, 1)
  const codes: number[] = []
  for (let i = 0; i < 20; i += 1) {
    const forged = createSigner({ key: forger, algorithm: 'ES256', kid: `forged-${i}` })({ ...claims })
    codes.push((await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: forged } })).statusCode)
  }
  t.same(new Set(codes), new Set([401]), 'every forged kid is refused')
  t.equal(s.op.jwksRequests(), fetched, '20 unknown kids within the cooldown fetched nothing')
  t.equal((await s.a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: good } })).statusCode, 200, 'known keys still work')
})

t.test('iss and aud are checked', async (t) => {
  const s = await setup(t)
  const good = (await signIn(t, s)).session.json().authtoken as string
  // The same provider and keys, but the service expects another audience, then another issuer.
  const otherAud = await startApp(t, {
    config: { jwtSecret: undefined, oidcIssuerUrl: s.op.issuer, oidcClientId: s.op.clientId, jwtAudience: 'another-api' },
  })
  const res = await otherAud.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: good } })
  t.equal(res.statusCode, 401)
  t.same(res.json().errors, { authtoken: ['has a wrong aud'] })
  const otherIss = await startApp(t, {
    config: { jwtSecret: undefined, jwksUrl: `${s.op.issuer}/jwks`, jwtIssuer: 'https://someone-else.example.com', jwtAudience: s.op.clientId },
  })
  const iss = await otherIss.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: good } })
  t.equal(iss.statusCode, 401)
  t.same(iss.json().errors, { authtoken: ['has a wrong iss'] })
  const viaUrl = await startApp(t, {
    config: { jwtSecret: undefined, jwksUrl: `${s.op.issuer}/jwks`, jwtIssuer: s.op.issuer, jwtAudience: s.op.clientId },
  })
  t.equal((await viaUrl.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: good } })).statusCode, 200, 'AUTH_JWKS_URL without discovery')
  t.equal((await viaUrl.app.inject({ method: 'GET', url: '/console/auth/config' })).json().mode, 'external')
})

t.test('an expired id_token is refused, and its session ends', async (t) => {
  const s = await setup(t)
  const { session, sessionCookie } = await signIn(t, s)
  const { authtoken, expires_at } = session.json()
  // The service's clock moves past the id_token's exp (the provider's clock is real time).
  const late = await startApp(t, {
    clock: new Date(Date.parse(expires_at) + 1000),
    config: { jwtSecret: undefined, oidcIssuerUrl: s.op.issuer, oidcClientId: s.op.clientId },
  })
  const res = await late.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken } })
  t.equal(res.statusCode, 401)
  t.same(res.json().errors, { authtoken: ['is expired'] })
  t.ok(sessionCookie)
})

t.test('without PUBLIC_URL the redirect URI comes from the request', async (t) => {
  const s = await setup(t, { config: { publicUrl: undefined } })
  const redirectOf = (res: LightMyRequestResponse) => new URL(String(res.headers.location)).searchParams.get('redirect_uri')
  const login = await s.a.app.inject({ method: 'GET', url: '/console/auth/login', headers: { host: 'console.test' } })
  t.equal(redirectOf(login), CALLBACK)
  const untrusted = await s.a.app.inject({ method: 'GET', url: '/console/auth/login', headers: { host: 'console.test', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example.com' } })
  t.equal(redirectOf(untrusted), CALLBACK, 'forwarded headers from an untrusted peer are ignored (TRUST_PROXY unset)')
  t.notMatch(cookieOf(untrusted, 'mt_console_signin'), /Secure/)

  // Behind a trusted proxy (TRUST_PROXY=loopback: inject's peer is 127.0.0.1), its headers count.
  const proxied = await setup(t, { config: { publicUrl: undefined, trustProxy: ['loopback'] } })
  const https = await proxied.a.app.inject({ method: 'GET', url: '/console/auth/login', headers: { host: 'internal:3000', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'tokens.example.com' } })
  t.equal(redirectOf(https), 'https://tokens.example.com/console/auth/callback')
  t.match(cookieOf(https, 'mt_console_signin'), /; Secure/, 'cookies are Secure over https')
})
