import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import t, { type Test } from 'tap'
import type { Config } from '../../src/config.js'
import { CONSOLE_CSP } from '../../src/http/routes/console.js'
import { developmentUid } from '../../src/http/auth.js'
import { OWNER, startApp, tempDir } from '../support/app.js'

const PUBLIC_PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
/** A loopback port nothing listens on: the identity provider is down. */
const DOWN = 'http://127.0.0.1:9'

/** Each sign-in mode of docs/console-api.md and the settings that select it. */
const MODES: ReadonlyArray<readonly [string, 'development' | 'oidc' | 'external', Partial<Config>]> = [
  ['DEV_SIGNIN and no JWT settings', 'development', { jwtSecret: undefined, devSignIn: true }],
  ['no JWT settings, no DEV_SIGNIN (the CLI mints authtokens)', 'external', { jwtSecret: undefined }],
  ['DEV_SIGNIN beside AUTH_JWT_SECRET (configuration refuses it; a key still wins)', 'external', { devSignIn: true }],
  ['AUTH_JWT_SECRET', 'external', {}],
  ['AUTH_JWT_PUBLIC_KEY', 'external', { jwtSecret: undefined, jwtPublicKey: PUBLIC_PEM }],
  ['AUTH_JWKS_URL', 'external', { jwtSecret: undefined, jwksUrl: `${DOWN}/jwks`, jwtIssuer: DOWN, jwtAudience: 'api' }],
  ['OIDC', 'oidc', { jwtSecret: undefined, oidcIssuerUrl: DOWN, oidcClientId: 'console' }],
  ['OIDC and AUTH_JWT_SECRET', 'oidc', { oidcIssuerUrl: DOWN, oidcClientId: 'console' }],
]

const login = (a: Awaited<ReturnType<typeof startApp>>, body: unknown) =>
  a.call({ method: 'POST', url: '/v3/user-session', body })

for (const [settings, mode, config] of MODES)
  t.test(`${settings}: sign-in mode ${mode}`, async (t) => {
    const a = await startApp(t, { config })
    const res = await a.call({ method: 'GET', url: '/console/auth/config' })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { mode })
    const dev = await login(a, { user: { email: 'a@b.c' } })
    if (mode === 'development') t.equal(dev.statusCode, 200, 'POST /v3/user-session exists in development')
    else {
      t.equal(dev.statusCode, 404, `POST /v3/user-session does not exist with ${settings}`)
      t.equal(dev.json().error_code, 141)
    }
    const session = await a.call({ method: 'POST', url: '/console/auth/session' })
    t.equal(session.statusCode, 401, 'no session without signing in')
    t.same(session.json().errors, { session: ['is missing or expired'] })
    const loginRoute = await a.call({ method: 'GET', url: '/console/auth/login' })
    t.equal(loginRoute.statusCode, mode === 'oidc' ? 503 : 404, 'OIDC sign-in only in oidc mode (its provider is down here)')
    if (mode === 'oidc') {
      // A kid-bearing authtoken needs the provider's keys, which discovery cannot find: 503, not 401.
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const jwt = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'ES256', kid: 'k' })({ sub: 's', email: OWNER })
      const res = await a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: jwt } })
      t.equal(res.statusCode, 503, res.body)
      t.match(res.json().error_message, /identity provider/)
    }
  })

t.test('development: POST /v3/user-session mints an authtoken for an email, as the CMA login answers', async (t) => {
  const a = await startApp(t, { config: { jwtSecret: undefined, devSignIn: true } })
  const res = await login(a, { user: { email: ' Owner@Example.com ' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const body = res.json()
  t.same(Object.keys(body), ['notice', 'user'])
  t.equal(body.notice, 'Login Successful.')
  t.same(Object.keys(body.user).sort(), ['authtoken', 'email', 'uid'])
  t.equal(body.user.email, OWNER)
  t.match(body.user.uid, /^blt[0-9a-f]{16}$/)
  t.equal(body.user.uid, developmentUid(OWNER))
  const again = (await login(a, { user: { email: OWNER } })).json()
  t.equal(again.user.uid, body.user.uid, 'the same uid for the same email')
  t.not((await login(a, { user: { email: 'other@example.com' } })).json().user.uid, body.user.uid)

  const created = await a.call({ method: 'POST', url: '/v3/stacks', headers: { authtoken: body.user.authtoken }, body: { stack: { name: 'Mine' } } })
  t.equal(created.statusCode, 201, 'the authtoken works on /v3')
  t.equal(created.json().stack.owner_uid, body.user.uid)
  const listed = await a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: again.user.authtoken } })
  t.same(listed.json().stacks.map((s: { name: string; role: string }) => [s.name, s.role]), [['Mine', 'owner']])
  t.notMatch(a.logLines.join('\n'), body.user.authtoken, 'the authtoken is never logged')

  for (const [payload, field] of [
    [{ user: { email: 'not-an-email' } }, 'user.email'],
    [{ user: { email: 'a@b' } }, 'user.email'],
    [{ user: { email: '\u212Aate@example.com' } }, 'user.email'],
    [{ user: { email: '\uFF4Bate@example.com' } }, 'user.email'],
    [{ user: { email: 'a b@c.de' } }, 'user.email'],
    [{ user: { email: `${'x'.repeat(250)}@b.cd` } }, 'user.email'],
    [{ user: { email: 7 } }, 'user.email'],
    [{ user: {} }, 'user.email'],
    [{ user: 'a@b.c' }, 'user'],
    [{}, 'user'],
  ] as const) {
    const bad = await login(a, payload)
    t.equal(bad.statusCode, 422, JSON.stringify(payload))
    t.equal(bad.json().error_code, 119)
    t.ok(bad.json().errors[field], `${JSON.stringify(payload)} names ${field}: ${bad.body}`)
  }
  const notJson = await a.call({ method: 'POST', url: '/v3/user-session', body: '{', headers: { 'content-type': 'application/json' } })
  t.equal(notJson.statusCode, 400)
})

t.test('session and logout take no body and answer with no cache', async (t) => {
  const a = await startApp(t)
  for (const [headers, payload] of [
    [{}, undefined],
    [{ 'content-type': 'application/json' }, ''],
    [{ 'content-type': 'application/json' }, '{"x":1}'],
    [{ 'content-type': 'text/plain' }, 'hello'],
  ] as const) {
    const session = await a.app.inject({ method: 'POST', url: '/console/auth/session', headers, ...(payload === undefined ? {} : { payload }) })
    t.equal(session.statusCode, 401, `${JSON.stringify(headers)} ${payload}`)
    t.equal(session.headers['cache-control'], 'no-store')
    const out = await a.app.inject({ method: 'POST', url: '/console/auth/logout', headers, ...(payload === undefined ? {} : { payload }) })
    t.equal(out.statusCode, 200)
    t.same(out.json(), { notice: 'Signed out.' })
    t.match(String(out.headers['set-cookie']), /mt_console_session=;.*Path=\/console\/auth/, 'the session cookie is cleared')
  }
})

const CSP = "default-src 'self';script-src 'self';style-src 'self';img-src 'self' data:;font-src 'self';connect-src 'self';object-src 'none';base-uri 'self';form-action 'self';frame-ancestors 'none'"

const builtConsole = (t: Test) => {
  const dir = join(tempDir(t, 'mt-console-'), 'dist')
  mkdirSync(join(dir, 'assets'), { recursive: true })
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Console</title><script type="module" src="/console/assets/app-1a2b.js"></script>')
  writeFileSync(join(dir, 'assets', 'app-1a2b.js'), 'console.log("app")')
  return dir
}

t.test('/console/ serves the built console with a strict CSP; client routes get index.html', async (t) => {
  const a = await startApp(t, { appOptions: { consoleDir: builtConsole(t) } })
  const get = (url: string) => a.app.inject({ method: 'GET', url })

  const root = await get('/console')
  t.equal(root.statusCode, 301)
  t.equal(root.headers.location, '/console/')
  const index = await get('/console/')
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /^text\/html/)
  t.match(index.body, /<title>Console<\/title>/)
  t.equal(index.headers['cache-control'], 'no-cache', 'index.html is revalidated')
  t.equal(index.headers['content-security-policy'], CSP)
  t.equal(index.headers['x-frame-options'], 'DENY')
  t.equal(index.headers['x-content-type-options'], 'nosniff')
  t.equal(index.headers['referrer-policy'], 'no-referrer')
  t.equal(index.headers['cross-origin-opener-policy'], 'same-origin')

  const asset = await get('/console/assets/app-1a2b.js')
  t.equal(asset.statusCode, 200)
  t.match(asset.headers['content-type'], /javascript/)
  t.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable', 'hashed assets are cached for good')
  t.equal(asset.headers['content-security-policy'], CSP)

  for (const route of ['/console/stacks', '/console/stacks/blt0123456789abcdef/tokens?x=1', '/console/index.html']) {
    const res = await get(route)
    t.equal(res.statusCode, 200, route)
    t.match(res.body, /<title>Console<\/title>/, `${route} is the app`)
    t.equal(res.headers['content-security-policy'], CSP)
  }
  for (const missing of ['/console/assets/gone-0000.js', '/console/favicon.ico', '/console/auth/unknown']) {
    const res = await get(missing)
    t.equal(res.statusCode, 404, missing)
    t.equal(res.json().error_code, 141, `${missing}: a JSON 404, not the app`)
  }
  const post = await a.app.inject({ method: 'POST', url: '/console/stacks' })
  t.equal(post.statusCode, 404, 'only GET and HEAD reach the app')
  const traversal = await get('/console/../package.json')
  t.not(traversal.statusCode, 200, 'nothing outside the console folder')
  const config = await get('/console/auth/config')
  t.equal(config.headers['content-security-policy'], CSP, 'sign-in plumbing carries the same headers')

  for (const url of ['/v3/stacks', '/docs', '/healthz', '/v3/authorize', '/nothing']) {
    const res = await a.call({ method: 'GET', url, as: OWNER })
    if (url === '/docs') t.not(res.headers['content-security-policy'], CSP, '/docs has its own CSP (Swagger UI), not the console\'s')
    else t.notOk(res.headers['content-security-policy'], `no console CSP on ${url}`)
    t.notOk(res.headers['x-frame-options'], `no helmet headers on ${url}`)
  }
})

t.test('without console/dist, /console/ answers 503 saying to run npm run build', async (t) => {
  const a = await startApp(t, { appOptions: { consoleDir: join(tempDir(t), 'missing') } })
  for (const url of ['/console/', '/console/stacks', '/console/assets/app.js']) {
    const res = await a.app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 503, url)
    t.match(res.headers['content-type'], /^text\/html/)
    t.match(res.body, /npm run build/)
    t.notMatch(res.body, /<script|<style|style=/, 'nothing the CSP would block')
    t.equal(res.headers['content-security-policy'], CSP)
  }
  t.equal((await a.app.inject({ method: 'GET', url: '/console' })).statusCode, 301)
  t.equal((await a.app.inject({ method: 'GET', url: '/console/logo.svg' })).statusCode, 404)
  t.equal((await a.app.inject({ method: 'GET', url: '/console/auth/config' })).statusCode, 200, 'sign-in plumbing still answers')
})

t.test('the CSP allows this origin only', async (t) => {
  for (const [directive, sources] of Object.entries(CONSOLE_CSP))
    for (const s of sources) t.ok(["'self'", "'none'", 'data:'].includes(s), `${directive}: ${s}`)
  t.notMatch(CSP, /unsafe-inline|unsafe-eval|https?:|\*/)
})

t.test('/docs documents the console routes and the API additions with schemas', async (t) => {
  const a = await startApp(t, { config: { jwtSecret: undefined, devSignIn: true } })
  const doc = (await a.app.inject({ method: 'GET', url: '/docs/json' })).json() as {
    paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }>; parameters?: Array<{ name: string }>; requestBody?: unknown }>>
  }
  for (const [path, method] of [
    ['/console/auth/config', 'get'],
    ['/console/auth/session', 'post'],
    ['/console/auth/logout', 'post'],
    ['/v3/user-session', 'post'],
    ['/v3/stacks', 'get'],
    ['/v3/audit-logs/as-of', 'get'],
  ] as const) {
    const op = doc.paths[path]?.[method]
    t.ok(op?.responses?.['200']?.content, `${method.toUpperCase()} ${path} has a response schema`)
  }
  t.ok(doc.paths['/v3/user-session']?.post?.requestBody, 'the login body is documented')
  t.same(doc.paths['/v3/audit-logs/as-of']?.get?.parameters?.map((p) => p.name), ['at'])
  t.notOk(doc.paths['/console/{*}'] ?? doc.paths['/console'], 'static files are not API')
})

t.test('a JWT signed by the configured public key is still verified with AUTH_JWKS_URL set', async (t) => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const a = await startApp(t, { config: { jwtSecret: undefined, jwtPublicKey: pem, jwksUrl: `${DOWN}/jwks`, jwtIssuer: DOWN, jwtAudience: 'api' } })
  const key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const plain = createSigner({ key, algorithm: 'ES256', expiresIn: 60_000 })({ sub: 'u-owner', email: OWNER })
  const ok = await a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: plain } })
  t.equal(ok.statusCode, 200, 'no kid: the public key decides')
  const withKid = createSigner({ key, algorithm: 'ES256', expiresIn: 60_000, kid: 'k1' })({ sub: 'u-owner', email: OWNER })
  const down = await a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: withKid } })
  t.equal(down.statusCode, 503, "a kid: the identity provider's key set decides, and it cannot be reached")
  t.equal(down.json().error_code, 503)
  for (const garbage of ['e30.e30.x', 'not-a-jwt', '%%%.e30.x']) {
    const res = await a.app.inject({ method: 'GET', url: '/v3/stacks', headers: { authtoken: garbage } })
    t.equal(res.statusCode, 401, garbage)
  }
})
