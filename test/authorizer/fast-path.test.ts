import { createServer, IncomingMessage, request, ServerResponse } from 'node:http'
import { type AddressInfo, Socket } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import type { Authorizer, Decision } from '../../src/authorizer/decide.js'
import { fastPathServer } from '../../src/authorizer/fast-path.js'
import { clientOf, trustFunction } from '../../src/authorizer/request-input.js'
import type { TrustProxy } from '../../src/config.js'
import { REDACT } from '../../src/logger.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'
import { allow, standInFastPath } from '../support/stand-in-fast-path.js'
import { NO_POLICY } from '../../src/domain/token-policy.js'

/**
 * The forward-auth fast path (src/authorizer/fast-path.ts) answers real-socket requests before
 * fastify sees them; `app.inject` always goes through fastify's own routes. Each case sends the
 * same requests both ways and compares the last answers header for header.
 */

interface Req {
  readonly method: string
  readonly url: string
  readonly headers?: Record<string, string>
  readonly body?: string
}
interface Res {
  readonly status: number
  readonly headers: Record<string, unknown>
  readonly body: string
}

const overSocket = (port: number, r: Req): Promise<Res> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: r.method, path: r.url, headers: r.headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(r.body)
  })

const injected = async (app: FastifyInstance, r: Req): Promise<Res> => {
  const res = await app.inject({ method: r.method as 'GET', url: r.url, headers: r.headers ?? {}, ...(r.body === undefined ? {} : { payload: r.body }) })
  return { status: res.statusCode, headers: res.headers, body: res.body }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** Set by the connection or the clock, not by the app. */
const TRANSPORT = new Set(['date', 'connection', 'keep-alive'])
const comparable = (headers: Record<string, unknown>, generatedId: boolean) =>
  Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => !TRANSPORT.has(name) && !(generatedId && name === 'x-request-id'))
      .map(([name, value]) => [name, String(value)]),
  )

/** Both answers alike: status, body, headers (a generated request id is a fresh UUID on each). */
const same = (t: Test, fast: Res, slow: Res, generatedId: boolean) => {
  t.equal(fast.status, slow.status, 'status')
  t.equal(fast.body, slow.body, 'body')
  t.same(comparable(fast.headers, generatedId), comparable(slow.headers, generatedId), 'headers')
  if (generatedId && slow.headers['x-request-id'] !== undefined) t.match(fast.headers['x-request-id'], UUID, 'a generated request id')
}

/** The status of each error_code a decision answers. */
const STATUS_OF_CODE: Record<number, number> = { 105: 401, 106: 401, 109: 412, 162: 403, 901: 422, 429: 429 }

/** A denial names its error in headers, for gateways that replace the body; for nginx, the real status and the body too. */
const deniedHeaders = (t: Test, r: Res, as403: boolean) => {
  const body = JSON.parse(r.body) as { error_code: number; error_message: string }
  t.equal(r.headers['x-mt-error-code'], String(body.error_code), 'x-mt-error-code')
  t.equal(r.headers['x-mt-error-message'], body.error_message, 'x-mt-error-message (these messages are ASCII)')
  if (!as403) return t.equal(r.headers['x-mt-status'], undefined, 'no x-mt-status')
  t.equal(r.headers['x-mt-status'], String(STATUS_OF_CODE[body.error_code]), 'x-mt-status: the real status')
  t.same(JSON.parse(String(r.headers['x-mt-error-body'])), body, 'x-mt-error-body parses to the body')
}

const READ_ENTRIES = [{ module: 'entry', acl: { read: true, write: false } }]

/** A listening app with two stacks and their tokens; `seen` counts the requests fastify routed. */
const listening = async (t: Test, config: Parameters<typeof authorizerFixture>[1] = {}) => {
  const clock = fakeWallClock(t)
  // The X-Forwarded-For cases need proxies trusted: the loopback one and those of 10/8.
  const f = await authorizerFixture(t, { planReadLimit: 1, planWriteLimit: 1, authFailureLimit: 1, trustProxy: ['loopback', '10.0.0.0/8'], ...config })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: READ_ENTRIES })
  const expired = await f.generateToken(apiKey, { scope: READ_ENTRIES, expires_on: '2029-06-01T00:00:00.000Z' })
  const otherStack = await f.createStack()
  const stranger = await f.generateToken(otherStack, { scope: READ_ENTRIES })
  // A stack whose policy now allows 30 days: its token made before, never expiring, outlives it.
  const strictStack = await f.createStack()
  const outlived = await f.generateToken(strictStack, { scope: READ_ENTRIES })
  await f.given(strictStack, 'StackPolicySet', { policy: { ...NO_POLICY, max_lifetime_days: 30 }, before: NO_POLICY })
  const app = await appOver(t, f.deps)
  const seen = { count: 0 }
  app.addHook('onRequest', (_req, _reply, done) => {
    seen.count += 1
    done()
  })
  // Node's server emits `request` for each request it reads: none for those answered from the socket (src/raw-http/).
  const nodeSaw = { count: 0 }
  app.server.on('request', () => {
    nodeSaw.count += 1
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { f, app, port, clock, seen, nodeSaw, apiKey, tok, expired, stranger, strictStack, outlived }
}

interface Case {
  readonly name: string
  /** Sent in order after every window has passed; the last answers are compared. */
  readonly steps: readonly Req[]
  readonly status: number
  /** Answered by the fast path, not by fastify. */
  readonly fast: boolean
  /** Fastify refuses it before any hook runs (a URL that does not decode): no onRequest, no request id. */
  readonly early?: true
}

const cases = (s: Awaited<ReturnType<typeof listening>>, as403: boolean): Case[] => {
  const auth = (secret: string, extra: Record<string, string> = {}) => ({ api_key: s.apiKey, authorization: `Bearer ${secret}`, ...extra })
  const traefik = (method: string, uri: string, headers: Record<string, string>): Req => ({
    method: 'GET',
    url: '/v3/authorize',
    headers: { 'x-forwarded-method': method, 'x-forwarded-uri': uri, ...headers },
  })
  const read = (headers: Record<string, string>) => traefik('GET', '/v3/content_types/blog/entries?locale=en-us', headers)
  // nginx passes only 401 and 403: every other denial is answered 403 (x-mt-status keeps the real one).
  const denied = (status: number) => (as403 ? 403 : status)
  const limited = denied(429)
  return [
    { name: 'Traefik: allowed read', steps: [read(auth(s.tok.secret))], status: 200, fast: true },
    {
      name: 'nginx: allowed read',
      steps: [{ method: 'GET', url: '/v3/authorize', headers: { ...auth(s.tok.secret), 'x-original-method': 'GET', 'x-original-uri': '/v3/content_types/a/entries/b' } }],
      status: 200,
      fast: true,
    },
    { name: 'a query string on /v3/authorize', steps: [{ ...read(auth(s.tok.secret)), url: '/v3/authorize?from=traefik' }], status: 200, fast: true },
    { name: 'Envoy: allowed read', steps: [{ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/blog/entries/blt1?x=1', headers: auth(s.tok.secret) }], status: 200, fast: true },
    { name: 'Envoy: a write with a read scope', steps: [{ method: 'DELETE', url: '/v3/authorize/envoy/v3/content_types/blog/entries/blt1', headers: auth(s.tok.secret) }], status: 403, fast: true },
    { name: 'Envoy: POST without a body', steps: [{ method: 'POST', url: '/v3/authorize/envoy/v3/assets', headers: auth(s.tok.secret) }], status: 403, fast: true },
    { name: 'Envoy: HEAD, allowed', steps: [{ method: 'HEAD', url: '/v3/authorize/envoy/v3/content_types/blog/entries', headers: auth(s.tok.secret) }], status: 200, fast: true },
    { name: 'Envoy: the bare prefix', steps: [{ method: 'GET', url: '/v3/authorize/envoy/', headers: auth(s.tok.secret) }], status: 403, fast: true },
    { name: 'HEAD /v3/authorize, allowed', steps: [{ ...read(auth(s.tok.secret)), method: 'HEAD' }], status: 200, fast: true },
    { name: 'HEAD /v3/authorize, denied', steps: [{ ...read({}), method: 'HEAD' }], status: denied(412), fast: true },
    { name: 'no api_key', steps: [read({ authorization: s.tok.secret })], status: denied(412), fast: true },
    { name: 'unknown stack', steps: [read({ api_key: 'blt0000000000000000', authorization: s.tok.secret })], status: denied(412), fast: true },
    { name: 'no token', steps: [read({ api_key: s.apiKey })], status: 401, fast: true },
    { name: 'unknown token', steps: [read(auth(newSecret()))], status: 401, fast: true },
    { name: 'not a token at all', steps: [read(auth('letmein'))], status: 401, fast: true },
    { name: 'a token of another stack', steps: [read(auth(s.stranger.secret))], status: 401, fast: true },
    { name: 'expired token', steps: [read(auth(s.expired.secret))], status: 401, fast: true },
    { name: 'a token outliving its stack policy', steps: [read(auth(s.outlived.secret, { api_key: s.strictStack }))], status: 401, fast: true },
    { name: 'a module never allowed', steps: [traefik('GET', '/v3/stacks', auth(s.tok.secret))], status: 403, fast: true },
    { name: 'unknown path', steps: [traefik('GET', '/v3/nowhere', auth(s.tok.secret))], status: 403, fast: true },
    { name: 'no original URI', steps: [{ method: 'GET', url: '/v3/authorize', headers: auth(s.tok.secret) }], status: 403, fast: true },
    { name: 'scope: a write with a read scope', steps: [traefik('POST', '/v3/content_types/blog/entries', auth(s.tok.secret))], status: 403, fast: true },
    { name: 'branch not in scope', steps: [read(auth(s.tok.secret, { branch: 'dev' }))], status: denied(422), fast: true },
    { name: 'rate limited', steps: [read(auth(s.tok.secret)), read(auth(s.tok.secret))], status: limited, fast: true },
    { name: 'failed authentications throttled', steps: [read(auth(newSecret())), read(auth(newSecret()))], status: limited, fast: true },
    {
      name: 'X-Forwarded-For: two clients are counted apart',
      steps: [read(auth(newSecret(), { 'x-forwarded-for': '203.0.113.5, 10.0.0.1' })), read(auth(newSecret(), { 'x-forwarded-for': '198.51.100.9' }))],
      status: 401,
      fast: true,
    },
    {
      name: 'X-Forwarded-For: one client through two proxies',
      steps: [read(auth(newSecret(), { 'x-forwarded-for': '203.0.113.5, 10.0.0.1' })), read(auth(newSecret(), { 'x-forwarded-for': ' 203.0.113.5' }))],
      status: limited,
      fast: true,
    },
    { name: 'a given x-request-id', steps: [read(auth(s.tok.secret, { 'x-request-id': 'req-42.a_b' }))], status: 200, fast: true },
    { name: 'a malformed x-request-id is replaced', steps: [read(auth(s.tok.secret, { 'x-request-id': 'not valid!' }))], status: 200, fast: true },
    // Left to fastify:
    { name: 'POST /v3/authorize with a body', steps: [{ ...read(auth(s.tok.secret, { 'content-type': 'application/json' })), method: 'POST', body: '{not json' }], status: 200, fast: false },
    { name: 'POST /v3/authorize without a body', steps: [{ ...read(auth(s.tok.secret)), method: 'POST' }], status: 200, fast: false },
    { name: 'GET with a chunked body', steps: [read(auth(s.tok.secret, { 'transfer-encoding': 'chunked' }))], status: 200, fast: false },
    { name: 'Envoy: a percent-encoded path', steps: [{ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/bl%6Fg/entries', headers: auth(s.tok.secret) }], status: 200, fast: false },
    { name: 'Envoy: an encoded slash', steps: [{ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/blog%2Fentries', headers: auth(s.tok.secret) }], status: 403, fast: false },
    { name: 'conflicting Traefik and nginx headers', steps: [{ ...read(auth(s.tok.secret)), headers: { ...read(auth(s.tok.secret)).headers, 'x-original-method': 'DELETE', 'x-original-uri': '/v3/content_types/blog/entries/x' } }], status: 403, fast: true },
    { name: 'nginx without X-Original-Method', steps: [{ method: 'GET', url: '/v3/authorize', headers: { ...auth(s.tok.secret), 'x-original-uri': '/v3/content_types/a/entries' } }], status: 403, fast: true },
    { name: 'a non-canonical original URI', steps: [traefik('GET', '/v3/content_types/blog/entries/%2e%2e', auth(s.tok.secret))], status: 403, fast: true },
    { name: 'Envoy: a path that does not decode', steps: [{ method: 'GET', url: '/v3/authorize/envoy/v3/%E0%A4%A', headers: auth(s.tok.secret) }], status: 400, fast: false, early: true },
    { name: 'Envoy: a method the route does not take', steps: [{ method: 'PROPFIND', url: '/v3/authorize/envoy/v3/assets', headers: auth(s.tok.secret) }], status: 404, fast: false },
    { name: 'a trailing slash', steps: [{ ...read(auth(s.tok.secret)), url: '/v3/authorize/' }], status: 404, fast: false },
    { name: 'another route', steps: [{ method: 'GET', url: '/healthz' }], status: 200, fast: false },
  ]
}

for (const as403 of [false, true])
  t.test(`the fast path answers as fastify does${as403 ? ' (429 as 403)' : ''}`, async (t) => {
    const s = await listening(t, { forwardAuth429As403: as403 })
    for (const c of cases(s, as403))
      await t.test(c.name, async (t) => {
        const run = async (send: (r: Req) => Promise<Res>) => {
          s.clock.advance(61_000) // every rate-limit window of the previous run is over
          let last: Res | undefined
          for (const step of c.steps) last = await send(step)
          return last as Res
        }
        const before = s.seen.count
        const nodeBefore = s.nodeSaw.count
        const fast = await run((r) => overSocket(s.port, r))
        t.equal(s.seen.count - before, c.fast || c.early ? 0 : c.steps.length, c.fast ? 'fastify never saw it' : 'fastify answered')
        t.equal(s.nodeSaw.count - nodeBefore, c.fast ? 0 : c.steps.length, c.fast ? "answered from the socket: Node's server never read it" : "Node's server read it")
        const slow = await run((r) => injected(s.app, r))
        t.equal(fast.status, c.status, `answered ${c.status}`)
        same(t, fast, slow, !c.steps.some((r) => r.headers?.['x-request-id'] === 'req-42.a_b'))
        if (c.steps[0]?.method === 'HEAD') t.equal(fast.body, '', 'HEAD: no body')
        else if (c.status >= 401 && c.status !== 404) deniedHeaders(t, fast, as403)
      })
  })

t.test('fast-path decisions are counted in the metrics', async (t) => {
  const s = await listening(t)
  const allowed = async () => /authorizer_decisions_total\{outcome="allow"\} (\d+)/.exec((await s.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1]
  t.equal(await allowed(), undefined)
  const res = await overSocket(s.port, { method: 'GET', url: '/v3/authorize/envoy/v3/assets', headers: { api_key: s.apiKey, authorization: s.tok.secret } })
  t.equal(res.status, 403, 'the token may not read assets')
  await overSocket(s.port, { method: 'GET', url: '/v3/authorize/envoy/v3/content_types/a/entries', headers: { api_key: s.apiKey, authorization: s.tok.secret } })
  t.equal(await allowed(), '1')
})

t.test('Redis counters (a promise per decision): the fast path answers as fastify does', async (t) => {
  const { Redis } = await import('ioredis')
  await (await import('../support/redis.js')).ensureRedis()
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  t.teardown(() => redis.quit())
  const f = await authorizerFixture(t, { redisUrl: 'redis://127.0.0.1:6379', planReadLimit: 5, authFailureLimit: 5, trustProxy: ['loopback'], redisCommandTimeoutMs: 10_000 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: READ_ENTRIES })
  const client = `198.51.100.${Math.floor(Math.random() * 250) + 1}`
  // The budgets are fields of the window's hash (this window's and the next, reserved ahead).
  const reset = async () => {
    const index = Math.floor(Date.now() / 1000)
    for (const w of [index, index + 1]) await redis.hdel(`mt-rl:w:${w}`, `t:read:${tok.uid}`, `s:read:${apiKey}`)
    await redis.del(`mt-rl:f:${client}`)
  }
  t.teardown(reset)
  const app = await appOver(t, f.deps)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (const secret of [tok.secret, newSecret()]) {
    const req: Req = {
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-for': client, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' },
    }
    await reset()
    const fast = await overSocket(port, req)
    await reset()
    const slow = await injected(app, req)
    t.equal(fast.status, secret === tok.secret ? 200 : 401)
    same(t, fast, slow, true)
  }
  t.equal(await redis.get(`mt-rl:f:${client}`), '1', 'the failure was counted in Redis for the forwarded client')
})

t.test('a decision that throws is a 500 with the request id, logged without secrets, on both paths', async (t) => {
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: READ_ENTRIES, expires_on: '2031-01-01T00:00:00.000Z' })
  const lines: string[] = []
  const logger = pino({ level: 'info', redact: REDACT }, { write: (line: string) => void lines.push(line) })
  // The clock is read only for a token that can expire.
  const app = await appOver(t, { ...f.deps, clock: () => { throw new Error('the clock stopped') } }, { logger })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const req: Req = { method: 'GET', url: '/v3/authorize/envoy/v3/content_types/a/entries', headers: { api_key: apiKey, authorization: tok.secret, 'x-request-id': 'boom-1' } }
  const fast = await overSocket(port, req)
  const slow = await injected(app, req)
  t.equal(fast.status, 500)
  t.same(JSON.parse(fast.body), { error_message: 'Internal error; quote request id boom-1.', error_code: 500, errors: {}, request_id: 'boom-1' })
  same(t, fast, slow, false)
  const errors = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 50)
  t.equal(errors.length, 2, 'logged once on each path')
  t.match(errors[0], { msg: 'internal error', reqId: 'boom-1', surface: 'forward-auth', err: { message: 'the clock stopped' } })
  t.notMatch(lines.join('\n'), tok.secret, 'no secret in the logs')
})

/** The fast handler alone, on a plain server, with a stand-in authorizer. */
const standalone = async (t: Test, authorize: Authorizer['authorize']) => {
  const { fast, lines } = standInFastPath(authorize)
  const server = createServer((req, res) => {
    if (!fast(req, res)) res.writeHead(418).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  return { lines, ask: (headers: Record<string, string> = {}) => overSocket(port, { method: 'GET', url: '/v3/authorize', headers: { 'x-request-id': 'r-1', ...headers } }) }
}

t.test('an async decision is answered when it settles; a rejected one is a 500', async (t) => {
  let next: Promise<Decision> = Promise.resolve(allow('blt-uid'))
  const s = await standalone(t, () => next)
  const ok = await s.ask()
  t.equal(ok.status, 200)
  t.equal(ok.headers['x-token-uid'], 'blt-uid')
  t.equal(ok.headers['x-request-id'], 'r-1')
  next = Promise.reject(new Error('counter store failed'))
  next.catch(() => {})
  const failed = await s.ask()
  t.equal(failed.status, 500)
  t.equal(JSON.parse(failed.body).request_id, 'r-1')
  t.match(JSON.parse(s.lines[0] as string), { level: 50, msg: 'internal error', reqId: 'r-1', err: { message: 'counter store failed' } })
})

t.test('an answer that cannot be written becomes a 500, and the server keeps serving', async (t) => {
  let uid = 'bad\nuid'
  const s = await standalone(t, () => allow(uid))
  const bad = await s.ask()
  t.equal(bad.status, 500, 'an invalid header value is caught before anything is sent')
  t.match(JSON.parse(s.lines[0] as string), { level: 50, err: { code: 'ERR_INVALID_CHAR' } })
  uid = 'blt-good'
  t.equal((await s.ask()).headers['x-token-uid'], 'blt-good')
  t.equal((await s.ask({ 'x-forwarded-method': 'GET' })).status, 200)
})

t.test('the client address is what fastify gives as req.ip, for every TRUST_PROXY form', async (t) => {
  const settings: TrustProxy[] = [false, true, ['loopback'], ['127.0.0.1/32', '10.0.0.0/8'], ['198.51.100.1']]
  for (const trust of settings) {
    // Fastify's own reading of the setting (a list as its comma-separated string) against ours.
    const app = Fastify({ trustProxy: typeof trust === 'boolean' ? trust : trust.join(',') })
    app.get('/', async (req) => ({ ip: req.ip, ours: clientOf(req.raw, trustFunction(trust), false) }))
    t.teardown(() => app.close())
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    for (const xff of [undefined, '', '203.0.113.5', ' 203.0.113.5 ', '203.0.113.5, 10.0.0.1', ' , 198.51.100.2,10.0.0.1', ', ,', '2001:db8::1, 10.0.0.1'] as const) {
      const res = await overSocket(port, { method: 'GET', url: '/', headers: xff === undefined ? {} : { 'x-forwarded-for': xff } })
      const { ip, ours } = JSON.parse(res.body) as { ip: string; ours: string }
      t.equal(ours, ip, `TRUST_PROXY ${JSON.stringify(trust)}, X-Forwarded-For ${JSON.stringify(xff)} -> ${ip}`)
    }
  }
})

t.test('once the app is closing, requests go to fastify (which refuses them)', async (t) => {
  const s = await listening(t)
  const [listener] = s.app.server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>
  await s.app.close()
  const req = new IncomingMessage(new Socket())
  req.method = 'GET'
  req.url = '/v3/authorize'
  req.headers = { api_key: s.apiKey, authorization: s.tok.secret }
  const res = new ServerResponse(req)
  const written: unknown[] = []
  res.end = ((chunk: unknown) => {
    written.push(chunk)
    return res
  }) as typeof res.end
  listener?.(req, res)
  t.equal(res.statusCode, 503)
  t.match(String(written[0]), /Service Unavailable/)
  t.equal(s.seen.count, 0, 'no route ran')
})

t.test('the server is the one fastify would create, timeouts included', async (t) => {
  const settings = (app: FastifyInstance) => {
    const { keepAliveTimeout, requestTimeout, timeout, maxRequestsPerSocket } = app.server
    return { keepAliveTimeout, requestTimeout, timeout, maxRequestsPerSocket, maxHeaderSize: (app.server as { maxHeaderSize?: number }).maxHeaderSize }
  }
  for (const options of [{}, { keepAliveTimeout: 5000, requestTimeout: 2000, connectionTimeout: 1000, maxRequestsPerSocket: 3, http: { maxHeaderSize: 4096 } }]) {
    const own = Fastify(options)
    const ours = Fastify({ ...options, serverFactory: fastPathServer().serverFactory })
    t.teardown(() => Promise.all([own.close(), ours.close()]))
    t.same(settings(ours), settings(own), JSON.stringify(options))
  }
})
