/**
 * docs/gateways/nginx.conf and docs/gateways/Caddyfile, run as shipped (Debian's nginx and caddy;
 * only the placeholder ports and nginx's pid and log paths changed, test/support/gateways.ts) in
 * front of the service and a CMA stand-in. Each denial reaches the client with the status,
 * headers and JSON body the service gives when asked directly (a reference instance with its
 * own counters, asked the same requests through `inject`); allowed requests reach the upstream
 * with the token's identity and without its secret; the bypass rows hold through both.
 */
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { Config } from '../../src/config.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock } from '../support/authorizer-fixtures.js'
import { checkRows, SCOPES, type RowContext, type SurfaceKind, type TokenName } from '../support/bypass-rows.js'
import { cmaUpstream } from '../support/cma-upstream.js'
import { type Answer, ask, CADDY, startShippedCaddy, startShippedNginx } from '../support/gateways.js'
import { freePort, NGINX } from '../support/nginx.js'
import { rawRequest } from '../support/raw-http.js'

const READ = [{ module: 'entry', acl: { read: true, write: false } }]
const ENTRIES = '/v3/content_types/blog/entries'
/** What a denial's client must get as the service gave it. */
const DENIAL_HEADERS = ['content-type', 'retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'ratelimit-policy', 'ratelimit', 'x-mt-error-code', 'x-mt-error-message']

const setup = async (t: Test) => {
  const up = await cmaUpstream(t)
  const f = await authorizerFixture(t, { planReadLimit: 1_000_000, planWriteLimit: 1_000_000, authFailureLimit: 1_000_000 })
  const listening = async (config: Partial<Config>) => {
    const app = await appOver(t, f.deps, { config })
    return Number(new URL(await app.listen({ port: 0, host: '127.0.0.1' })).port)
  }
  // As each file's header says to run the service.
  const nginxService = await listening({ forwardAuthProxy: 'nginx', forwardAuth429As403: true, trustProxy: ['loopback'] })
  const caddyService = await listening({ forwardAuthProxy: 'traefik', trustProxy: ['loopback'] })
  // Asked the same requests directly, with counters of its own.
  const reference = await appOver(t, f.deps)

  const apiKey = await f.createStack()
  const otherKey = await f.createStack()
  const secrets = {} as Record<TokenName, string>
  for (const [name, scope] of Object.entries(SCOPES)) secrets[name as TokenName] = (await f.generateToken(apiKey, { scope })).secret
  const rows: RowContext = { apiKey, otherKey, stranger: (await f.generateToken(otherKey, { scope: SCOPES.allReadWrite })).secret, secret: (name) => secrets[name] }
  return { up, f, reference, nginxService, caddyService, rows }
}
type Setup = Awaited<ReturnType<typeof setup>>

/** The same original request, described to the reference instance as Traefik (and Caddy) would. */
const askReference = async (reference: FastifyInstance, method: string, path: string, headers: Record<string, string>): Promise<Answer> => {
  const res = await reference.inject({ method: 'GET', url: '/v3/authorize', headers: { ...headers, 'x-forwarded-method': method, 'x-forwarded-uri': path } })
  return { status: res.statusCode, headers: res.headers as Answer['headers'], body: res.body }
}

let nextId = 0
const caseId = () => `shipped-${++nextId}`

/** Denials and allowed requests through one gateway, each compared with the service's own answer. */
const answersAsTheService = async (t: Test, s: Setup, port: number) => {
  // A stack and tokens of their own: the stack-wide budget in the rate-limit headers is theirs alone.
  const apiKey = await s.f.createStack()
  const reader = await s.f.generateToken(apiKey, { scope: READ })
  const writer = await s.f.generateToken(apiKey, { scope: [{ module: 'entry', acl: { read: true, write: true } }] })
  const limited = await s.f.generateToken(apiKey, { scope: READ, rate_limit: { read: 1, write: 1 } })
  const as = (secret: string, extra: Record<string, string> = {}) => ({ api_key: apiKey, authorization: `Bearer ${secret}`, ...extra })

  /** Sends `steps` through the gateway and to the reference; the last answers are compared. */
  const compare = async (label: string, steps: ReadonlyArray<readonly [method: string, path: string, headers: Record<string, string>]>) => {
    let got: Answer | undefined
    let want: Answer | undefined
    let reached = 0
    for (const [method, path, headers] of steps) {
      const id = caseId()
      got = await ask(port, method, path, { ...headers, 'x-case-id': id })
      reached = s.up.reached.get(id)?.length ?? 0
      want = await askReference(s.reference, method, path, headers)
    }
    const g = got as Answer
    const w = want as Answer
    t.equal(g.status, w.status, `${label}: ${w.status}, as the service answers`)
    t.equal(reached, 0, `${label}: nothing reached the upstream`)
    t.same(JSON.parse(g.body), JSON.parse(w.body), `${label}: the service's JSON body`)
    t.equal(g.headers['x-mt-error-code'], String(JSON.parse(w.body).error_code), `${label}: x-mt-error-code`)
    for (const name of DENIAL_HEADERS) t.equal(g.headers[name], w.headers[name], `${label}: ${name} ${JSON.stringify(w.headers[name])}`)
    return g
  }

  await compare('a write the scope does not allow', [['POST', ENTRIES, as(reader.secret)]])
  await compare('an unknown token', [['GET', ENTRIES, as('cs00000000000000000000000000000000')]])
  await compare('no token', [['GET', ENTRIES, { api_key: apiKey }]])
  await compare('an unknown stack', [['GET', ENTRIES, { api_key: 'blt0000000000000000', authorization: reader.secret }]])
  await compare('a branch outside the scope', [['GET', ENTRIES, as(reader.secret, { branch: 'dev' })]])
  await compare('not a CMA path', [['GET', '/v3/nowhere', as(reader.secret)]])
  const tooMany = await compare('rate limited', [
    ['GET', ENTRIES, as(limited.secret)],
    ['GET', ENTRIES, as(limited.secret)],
  ])
  t.equal(tooMany.status, 429, 'a rate-limited call is a 429 for the client')
  t.equal(tooMany.headers['retry-after'], '1', 'with Retry-After, so an SDK backs off')

  // Allowed: the upstream gets the token's identity, never its secret nor a client's forged identity.
  const id = caseId()
  const ok = await ask(port, 'GET', `${ENTRIES}?locale=en-us`, { ...as(reader.secret, { 'x-token-uid': 'forged' }), 'x-case-id': id })
  const reference = await askReference(s.reference, 'GET', `${ENTRIES}?locale=en-us`, as(reader.secret))
  t.equal(ok.status, 200, 'an allowed read passes')
  t.same(JSON.parse(ok.body), { route: ENTRIES.replace('blog', ':ct') }, "the upstream's answer")
  const seen = s.up.reached.get(id) ?? []
  t.equal(seen.length, 1, 'the upstream handler ran once')
  t.equal(seen[0]?.tokenUid, reader.uid, 'with the token uid the service gave, not the forged one')
  t.equal(seen[0]?.authorization, undefined, 'without the secret')
  t.equal(seen[0]?.url, `${ENTRIES}?locale=en-us`)
  for (const name of ['x-ratelimit-limit', 'x-ratelimit-remaining', 'ratelimit-policy', 'ratelimit'])
    t.equal(ok.headers[name], reference.headers[name], `allowed: ${name} ${JSON.stringify(reference.headers[name])}, the token's budget`)

  const writeId = caseId()
  const write = await ask(port, 'POST', ENTRIES, { ...as(writer.secret), 'content-type': 'application/json', 'x-case-id': writeId }, '{"entry":{"title":"x"}}')
  t.equal(write.status, 200, 'an allowed write with a body passes (the auth request carries no body)')
  t.equal(s.up.reached.get(writeId)?.[0]?.method, 'POST')
}

/**
 * A token's allowed_ips against the address the gateway saw (the client here is 127.0.0.1): the
 * file passes it in X-Forwarded-For, and a client's own X-Forwarded-For or X-Real-IP moves nothing.
 */
const allowLists = async (t: Test, s: Setup, port: number) => {
  const apiKey = await s.f.createStack()
  const local = await s.f.generateToken(apiKey, { scope: READ, allowed_ips: ['127.0.0.1'] })
  const elsewhere = await s.f.generateToken(apiKey, { scope: READ, allowed_ips: ['203.0.113.0/24'] })
  const spoof = { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7' }
  const through = async (secret: string, extra: Record<string, string> = {}) => {
    const id = caseId()
    const res = await ask(port, 'GET', ENTRIES, { api_key: apiKey, authorization: secret, ...extra, 'x-case-id': id })
    return { ...res, reached: s.up.reached.get(id)?.length ?? 0 }
  }
  const ok = await through(local.secret)
  t.same([ok.status, ok.reached], [200, 1], 'a list with the client address: allowed, and forwarded')
  const spoofedOk = await through(local.secret, spoof)
  t.same([spoofedOk.status, spoofedOk.reached], [200, 1], "a client's own X-Forwarded-For does not replace its address")
  const out = await through(elsewhere.secret)
  t.same([out.status, out.reached], [403, 0], 'a list without it: denied, not forwarded')
  t.same(JSON.parse(out.body), {
    error_message: 'The token may not be used from 127.0.0.1: the address is not in its allowed_ips.',
    error_code: 162,
    errors: { client_address: ['is not in allowed_ips'] },
  })
  const spoofed = await through(elsewhere.secret, spoof)
  t.same([spoofed.status, spoofed.reached], [403, 0], 'a spoofed X-Forwarded-For or X-Real-IP in the list does not satisfy it')
}

/** The bypass rows of test/authorizer/bypass.test.ts, through the shipped file. */
const bypassRows = (t: Test, s: Setup, name: string, kind: SurfaceKind, port: number) =>
  checkRows(t, s.rows, [[name, kind, port]], async (p, method, target, headers) => {
    const id = caseId()
    const res = await rawRequest(p, method, target, [...headers, ['x-case-id', id]])
    const reached = s.up.reached.get(id) ?? []
    s.up.reached.delete(id)
    return { status: res.status, reached }
  })

/**
 * One shipped file in front of the service, then in front of nothing: `whenDown` checks what the
 * gateway answers with the service unreachable, and nothing may be forwarded then.
 */
const throughShippedFile = async (
  t: Test,
  s: Setup,
  file: { name: string; kind: SurfaceKind; service: number },
  start: (t: Test, ports: { service: number; upstream: number }) => Promise<{ port: number }>,
  whenDown: (down: Answer) => void,
) => {
  const gateway = await start(t, { service: file.service, upstream: s.up.port })
  const orphan = await start(t, { service: await freePort(), upstream: s.up.port })
  fakeWallClock(t)
  await t.test('answers as the service does', (t) => answersAsTheService(t, s, gateway.port))
  await t.test('bypass rows', (t) => bypassRows(t, s, file.name, file.kind, gateway.port))
  await t.test('allow-lists', (t) => allowLists(t, s, gateway.port))
  const id = caseId()
  const down = await ask(orphan.port, 'GET', ENTRIES, { api_key: s.rows.apiKey, authorization: s.rows.secret('readEntries'), 'x-case-id': id })
  whenDown(down)
  t.equal(s.up.reached.get(id), undefined, 'nothing reached the upstream')
}

t.test('the shipped gateway configurations', async (t) => {
  const s = await setup(t)

  await t.test('nginx.conf', { skip: NGINX ? false : 'nginx is not installed (apt-get install -y nginx)' }, (t) =>
    throughShippedFile(t, s, { name: 'nginx.conf', kind: 'nginx', service: s.nginxService }, startShippedNginx, (down) => {
      // nginx's own error in JSON.
      t.equal(down.status, 503, 'the service unreachable: 503')
      t.match(down.headers['content-type'], /^application\/json/)
      t.same(JSON.parse(down.body), { error_message: 'The authorizer is unavailable; try again shortly.', error_code: 503, errors: {} })
    }),
  )

  await t.test('Caddyfile', { skip: CADDY ? false : 'caddy is not installed (apt-get install -y caddy)' }, (t) =>
    throughShippedFile(t, s, { name: 'Caddyfile', kind: 'caddy', service: s.caddyService }, startShippedCaddy, (down) => {
      t.equal(down.status, 502, "the service unreachable: Caddy's 502")
    }),
  )
})
