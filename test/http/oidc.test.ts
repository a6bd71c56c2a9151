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

const setup = async (t: Test, o: { clientSecret?: string; config?: Partial<Config>; cooldownMs?: number; clock?: boolean } = {}): Promise<Setup> => {
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
    ...(o.clock ? { clock: true } : {}),
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
  // A compact JWE with direct encryption: protected header, no encrypted key, iv, ciphertext, tag.
  t.match(pending, /^mt_console_signin=eyJ[\w-]+\.\.[\w-]+\.[\w-]+\.[\w-]+; Max-Age=600; Path=\/console\/auth\/callback; HttpOnly; SameSite=Lax$/)
  t.same(part(valueOf(pending)!.slice('mt_console_signin='.length), 0), { alg: 'dir', enc: 'A256GCM' })
  for (const p of ['state', 'nonce', 'code_challenge'] as const)
    t.notMatch(pending, authorize.searchParams.get(p)!, `the cookie does not show the ${p} in clear`)
  t.equal(login.headers['cache-control'], 'no-store')
  t.equal(`${callback.origin}${callback.pathname}`, CALLBACK, 'the provider sends the browser back to the callback')
  t.ok(callback.searchParams.get('code'))

  t.equal(back.statusCode, 302, back.body)
  t.equal(back.headers.location, '/console/')
  t.match(sessionCookie, /^mt_console_session=[\w-]{43}; Max-Age=\d+; Path=\/console\/auth; HttpOnly; SameSite=Strict$/)
  t.notMatch(sessionCookie, /eyJ/, 'the id_token stays on the server')
  t.match(cookieOf(back, 'mt_console_signin'), /^mt_console_signin=; Max-Age=0; Path=\/console\/auth\/callback; Expires=Thu, 01 Jan 1970/, 'the pending sign-in is cleared on use')
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
  t.equal(replay.headers.location, '/console/?signin_error=failed', 'a replayed pending sign-in cannot sign in again: its code is spent')
  t.notOk(cookieOf(replay, 'mt_console_session'))

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

t.test('starting sign-ins cancels nobody else\'s: after 10,001 more, the first still completes', async (t) => {
  const s = await setup(t)
  const first = await s.a.app.inject({ method: 'GET', url: '/console/auth/login' })
  // The server once kept 10,000 sign-ins in progress and dropped the oldest beyond that.
  const FLOOD = 10_001
  let started = 0
  for (let i = 0; i < FLOOD; i += 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, FLOOD - i) }, () => s.a.app.inject({ method: 'GET', url: '/console/auth/login' })))
    started += batch.filter((r) => r.statusCode === 302 && cookieOf(r, 'mt_console_signin')).length
  }
  t.equal(started, FLOOD, `${FLOOD} anonymous sign-ins started`)
  const callback = await s.op.signIn(String(first.headers.location), TEST_ACCOUNT.email)
  const back = await s.a.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie: valueOf(cookieOf(first, 'mt_console_signin')) ?? '' } })
  t.equal(back.headers.location, '/console/', 'the first sign-in completes')
  const session = await s.a.app.inject({ method: 'POST', url: '/console/auth/session', headers: { cookie: valueOf(cookieOf(back, 'mt_console_session')) ?? '' } })
  t.equal(session.json().email, TEST_ACCOUNT.email)
})

t.test('a pending sign-in cookie that is expired, altered or from another instance is refused, and the log says which', async (t) => {
  const s = await setup(t, { clock: true })
  const failures = () => s.a.logs().filter((l) => l.msg === 'console sign-in failed').map((l) => l.detail)
  const login = async (a = s.a) => valueOf(cookieOf(await a.app.inject({ method: 'GET', url: '/console/auth/login' }), 'mt_console_signin')) as string
  const callback = (cookie: string, a = s.a) => a.app.inject({ method: 'GET', url: '/console/auth/callback?code=some-code&state=some-state', headers: { cookie } })

  const young = await login()
  s.a.clock!.advance(599_000)
  t.equal((await callback(young)).headers.location, '/console/?signin_error=failed', 'at 9:59 the cookie still opens (then the forged state fails)')
  t.notMatch(String(failures().at(-1)), /pending sign-in/)

  const old = await login()
  s.a.clock!.advance(600_000)
  const expired = await callback(old)
  t.equal(expired.headers.location, '/console/?signin_error=expired', 'at 10:00 it has expired, on the server\'s clock')
  t.equal(failures().at(-1), 'the pending sign-in is older than 10 minutes')

  const fresh = await login()
  const [name, jwe] = fresh.split('=') as [string, string]
  const parts = jwe.split('.')
  const ciphertext = parts[3] as string
  parts[3] = `${ciphertext[0] === 'A' ? 'B' : 'A'}${ciphertext.slice(1)}`
  const altered = await callback(`${name}=${parts.join('.')}`)
  t.equal(altered.headers.location, '/console/?signin_error=expired', 'one altered character: refused')
  t.equal(failures().at(-1), 'the pending sign-in cookie does not decrypt (altered, or from before a restart)')
  t.equal((await callback(`${name}=not-a-jwe`)).headers.location, '/console/?signin_error=expired')

  const other = await startApp(t, { clock: new Date(s.a.clock!.now()), config: { jwtSecret: undefined, oidcIssuerUrl: s.op.issuer, oidcClientId: s.op.clientId, publicUrl: PUBLIC_URL } })
  t.equal((await callback(await login(other))).headers.location, '/console/?signin_error=expired', 'sealed by another instance (another key): refused')
  t.equal((await callback('')).headers.location, '/console/?signin_error=expired')
  t.equal(failures().at(-1), 'no pending sign-in for this browser')
  t.equal(s.a.logLines.filter((l) => l.includes(jwe)).length, 0, 'the cookie is never logged')
})

t.test('the callback checks state, nonce and the PKCE verifier exactly, against the real provider', async (t) => {
  const s = await setup(t)
  const attempt = async (changeAuthorize: (u: URL) => void, changeCallback: (u: URL) => void = () => {}) => {
    const login = await s.a.app.inject({ method: 'GET', url: '/console/auth/login' })
    const authorize = new URL(String(login.headers.location))
    changeAuthorize(authorize)
    const callback = await s.op.signIn(authorize.href, TEST_ACCOUNT.email)
    changeCallback(callback)
    const back = await s.a.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}`, headers: { cookie: valueOf(cookieOf(login, 'mt_console_signin')) ?? '' } })
    return { location: back.headers.location, session: cookieOf(back, 'mt_console_session') }
  }
  const tweak = (v: string | null) => `${v}x`
  t.match(await attempt(() => {}), { location: '/console/', session: /^mt_console_session=/ }, 'untouched: signed in')
  const nonce = await attempt((u) => u.searchParams.set('nonce', tweak(u.searchParams.get('nonce'))))
  t.same(nonce, { location: '/console/?signin_error=failed', session: undefined }, 'an id_token for another nonce')
  t.match(s.a.logs().filter((l) => l.msg === 'console sign-in failed').at(-1), { reason: 'failed', detail: /"nonce"/ }, 'the log says which check failed')
  const pkce = await attempt((u) => u.searchParams.set('code_challenge', 'A'.repeat(43)))
  t.same(pkce, { location: '/console/?signin_error=failed', session: undefined }, 'a code issued for another PKCE challenge')
  const state = await attempt(() => {}, (u) => u.searchParams.set('state', tweak(u.searchParams.get('state'))))
  t.same(state, { location: '/console/?signin_error=failed', session: undefined }, 'a state with one more character')
  t.match(s.a.logs().filter((l) => l.msg === 'console sign-in failed').at(-1), { reason: 'failed', detail: /"state"/ })
})

t.test('the pending sign-in cookie is Secure when PUBLIC_URL is https', async (t) => {
  const s = await setup(t, { config: { publicUrl: 'https://tokens.example.com' } })
  const login = await s.a.app.inject({ method: 'GET', url: '/console/auth/login' })
  t.match(cookieOf(login, 'mt_console_signin'), /; HttpOnly; Secure; SameSite=Lax$/)
})
