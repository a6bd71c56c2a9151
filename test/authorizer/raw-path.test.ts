import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect } from 'node:net'
import t, { type Test } from 'tap'
import type { Authorizer } from '../../src/authorizer/decide.js'
import { fastPathServer } from '../../src/authorizer/fast-path.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'
import { exchange, requestText, responsesIn, untilClosed, type WireResponse } from '../support/raw-http.js'
import { allow, standInFastPath } from '../support/stand-in-fast-path.js'
import { floodWithoutReading } from '../support/unread-flood.js'

/**
 * Forward-auth's raw path: the socket reader (src/raw-http/, tested on its own in test/raw-http/)
 * with forward-auth's fast handler (src/authorizer/fast-path.ts) on buildApp's server. Requests
 * are read from the socket's bytes and answered there, until the first request that is not
 * forward-auth's hands the connection to Node's server. Node's server emits `request` for every
 * request it reads, so counting those events tells which side answered.
 */

const READ_ENTRIES = [{ module: 'entry', acl: { read: true, write: false } }]
/** Set by the clock, not by the app. */
const withoutDate = (r: WireResponse) => r.text.replace(/\r\nDate: [^\r]*/, '\r\nDate: -')

const service = async (t: Test, config: Parameters<typeof authorizerFixture>[1] = {}) => {
  const clock = fakeWallClock(t)
  const f = await authorizerFixture(t, { planReadLimit: 100, planWriteLimit: 100, authFailureLimit: 100, ...config })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: READ_ENTRIES })
  const app = await appOver(t, f.deps)
  const nodeSaw = { count: 0 }
  app.server.on('request', () => {
    nodeSaw.count += 1
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const auth = (secret: string, uri = '/v3/content_types/blog/entries', method = 'GET'): Array<[string, string]> => [
    ['api_key', apiKey],
    ['authorization', secret],
    ['x-original-method', method],
    ['x-original-uri', uri],
    ['x-request-id', 'req-1'],
  ]
  /** Envoy sends the original method and path as its own request's. */
  const envoyAuth = (secret: string): Array<[string, string]> => [
    ['api_key', apiKey],
    ['authorization', secret],
    ['x-request-id', 'req-1'],
  ]
  return { app, port, clock, nodeSaw, apiKey, tok, auth, envoyAuth, deps: f.deps }
}

t.test('pipelined proxy requests are answered from the socket, in order, as Node would answer them', async (t) => {
  const s = await service(t)
  const asked = [
    requestText('GET', '/v3/authorize', s.auth(s.tok.secret)),
    requestText('GET', '/v3/authorize', s.auth(newSecret())),
    requestText('HEAD', '/v3/authorize/envoy/v3/content_types/blog/entries', s.envoyAuth(s.tok.secret)),
    requestText('DELETE', '/v3/authorize/envoy/v3/content_types/blog/entries/blt1', s.envoyAuth(s.tok.secret)),
  ]
  const methods = ['GET', 'GET', 'HEAD', 'DELETE']
  const raw = responsesIn(await exchange(s.port, [asked.join('')]), methods)
  t.same(
    raw.map((r) => r.status),
    [200, 401, 200, 403],
    'every answer, in order',
  )
  t.equal(s.nodeSaw.count, 0, "Node's server read none of them")
  t.equal(raw[2]?.body, '', 'HEAD: no body')
  t.equal(raw[0]?.headers.connection, 'keep-alive')

  // The same requests after one of fastify's on the same connection: Node's server reads them.
  s.clock.advance(61_000)
  const viaNode = responsesIn(await exchange(s.port, [requestText('GET', '/healthz') + asked.join('')]), ['GET', ...methods]).slice(1)
  t.equal(s.nodeSaw.count, 1 + asked.length, "after the first request that is not forward-auth's, Node's server reads the connection")
  t.same(viaNode.map(withoutDate), raw.map(withoutDate), 'byte for byte the same answers, Date aside')
})

t.test('a connection is handed to Node at the first request that is not ours, with its bytes', async (t) => {
  const s = await service(t)
  const ok = requestText('GET', '/v3/authorize', s.auth(s.tok.secret))
  const body = JSON.stringify({ method: 'GET', path: '/v3/content_types/blog/entries' })
  const post = requestText('POST', '/v3/authorize', [...s.auth(s.tok.secret), ['content-type', 'application/json'], ['content-length', String(body.length)]], body)
  const got = responsesIn(await exchange(s.port, [ok + post + ok]))
  t.same(
    got.map((r) => r.status),
    [200, 200, 200],
  )
  t.equal(s.nodeSaw.count, 2, 'the POST and what followed it went to Node')
  t.equal(got.length, 3, 'three requests, three answers')
})

t.test('a request split across writes is answered', async (t) => {
  const s = await service(t)
  const ok = requestText('GET', '/v3/authorize', s.auth(s.tok.secret))
  const cut = Math.floor(ok.length / 2)
  const got = await untilClosed(
    s.port,
    (socket) => socket.write(ok + ok.slice(0, cut)),
    // The rest of the second request once the first is answered: it was read incomplete.
    (socket, received) => received === 1 && socket.end(ok.slice(cut)),
  )
  t.same(
    responsesIn(got).map((r) => r.status),
    [200, 200],
  )
  t.equal(s.nodeSaw.count, 1, 'the first from the socket, the second by Node, incomplete when read')
})

t.test('a body is never read as a request: smuggling attempts get one answer each', async (t) => {
  const s = await service(t)
  const inner = requestText('GET', '/v3/authorize', s.auth(s.tok.secret))
  const outer = (headers: Array<[string, string]>, body: string) => requestText('GET', '/v3/authorize', [...s.auth('not-a-token'), ...headers], body)
  const chunked = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`
  for (const [name, bytes, statuses] of [
    ['Content-Length', outer([['content-length', String(inner.length)]], inner), [401]],
    ['Transfer-Encoding', outer([['transfer-encoding', 'chunked']], chunked), [401]],
    ['two Content-Length: 0', outer([['content-length', '0'], ['content-length', '0']], inner), [400]],
    ['Content-Length and Transfer-Encoding', outer([['content-length', '3'], ['transfer-encoding', 'chunked']], chunked), [400]],
  ] as const) {
    const before = s.nodeSaw.count
    const text = await exchange(s.port, [bytes])
    const got = responsesIn(text)
    t.same(
      got.map((r) => r.status),
      statuses,
      `${name}: ${JSON.stringify(statuses)}`,
    )
    t.notMatch(text, /x-token-uid/, `${name}: the token in the body was never judged`)
    t.ok(s.nodeSaw.count - before <= 1, `${name}: Node's parser read it`)
  }
})

t.test('HTTP/1.0 and Connection: close are answered from the socket, then the connection closes', async (t) => {
  const s = await service(t)
  for (const [name, bytes] of [
    ['HTTP/1.0', requestText('GET', '/v3/authorize', s.auth(s.tok.secret), '', '1.0')],
    ['Connection: close', requestText('GET', '/v3/authorize', [...s.auth(s.tok.secret), ['Connection', 'close']])],
  ] as const) {
    s.clock.advance(61_000)
    // The client never ends its side: the server closes.
    const [raw] = responsesIn(await untilClosed(s.port, (socket) => socket.write(bytes)))
    t.equal(raw?.status, 200, name)
    t.equal(raw?.headers.connection, 'close', `${name}: Connection: close`)
    t.equal(s.nodeSaw.count, 0, `${name}: Node's server never read it`)
    s.clock.advance(61_000)
    const [, viaNode] = responsesIn(await exchange(s.port, [requestText('GET', '/healthz') + bytes]))
    s.nodeSaw.count = 0
    t.equal(viaNode && withoutDate(viaNode), raw && withoutDate(raw), `${name}: as Node answers it`)
  }
  // A request that asks to close, with more bytes after it, is Node's: it refuses what follows.
  const close = requestText('GET', '/v3/authorize', [...s.auth(s.tok.secret), ['Connection', 'close']])
  const got = responsesIn(await exchange(s.port, [close + close]))
  t.same(
    got.map((r) => r.status),
    [200, 400],
    'the answer, then Node refuses data after Connection: close',
  )
  t.equal(s.nodeSaw.count, 1)
})

t.test('a repeated X-Forwarded-For is one list, as Node joins it: the client is the same on both paths', async (t) => {
  const s = await service(t, { authFailureLimit: 1, trustProxy: ['loopback', '10.0.0.0/8'] })
  const failing = (xff: Array<[string, string]>) => requestText('GET', '/v3/authorize', [...s.auth(newSecret()), ...xff])
  const repeated = failing([
    ['X-Forwarded-For', '203.0.113.5'],
    ['x-forwarded-for', '10.0.0.1'],
  ])
  const joined = failing([['X-Forwarded-For', '203.0.113.5, 10.0.0.1']])
  const other = failing([['X-Forwarded-For', '198.51.100.7']])
  const statuses = async (prefix: string) =>
    responsesIn(await exchange(s.port, [prefix + repeated + joined + other]))
      .slice(prefix ? 1 : 0)
      .map((r) => r.status)
  t.same(await statuses(''), [401, 429, 401], 'raw path: 203.0.113.5 twice, then another client')
  t.equal(s.nodeSaw.count, 0)
  s.clock.advance(61_000)
  t.same(await statuses(requestText('GET', '/healthz')), [401, 429, 401], "Node's path: the same")
})

t.test('the app closes with idle kept-alive raw connections open', async (t) => {
  const s = await service(t)
  const socket = connect(s.port, '127.0.0.1')
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  const answered = new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString())))
  socket.write(requestText('GET', '/v3/authorize', s.auth(s.tok.secret)))
  t.match(await answered, /^HTTP\/1\.1 200 OK\r\n/)
  // Without closing it, Node's server would wait for the connection (72 s, fastify's keep-alive).
  await s.app.close()
  await closed
  t.equal(s.nodeSaw.count, 0)
})

t.test('RAW_HTTP=false: forward-auth requests are read by Node and routed by fastify, with the same answers', async (t) => {
  const s = await service(t)
  const off = await appOver(t, s.deps, { config: { rawHttp: false } })
  const seen = { read: 0, routed: 0 }
  off.server.on('request', () => {
    seen.read += 1
  })
  off.addHook('onRequest', async () => {
    seen.routed += 1
  })
  await off.listen({ port: 0, host: '127.0.0.1' })
  const { port } = off.server.address() as AddressInfo
  const asked = [
    requestText('GET', '/v3/authorize', s.auth(s.tok.secret)),
    requestText('GET', '/v3/authorize', s.auth(newSecret())),
    requestText('GET', '/v3/authorize', s.auth(s.tok.secret, '/v3/content_types/blog/entries', 'POST')),
    requestText('HEAD', '/v3/authorize/envoy/v3/content_types/blog/entries', s.envoyAuth(s.tok.secret)),
    requestText('DELETE', '/v3/authorize/envoy/v3/content_types/blog/entries/blt1', s.envoyAuth(s.tok.secret)),
  ]
  const methods = ['GET', 'GET', 'GET', 'HEAD', 'DELETE']
  const raw = responsesIn(await exchange(s.port, [asked.join('')]), methods)
  const viaFastify = responsesIn(await exchange(port, [asked.join('')]), methods)
  t.equal(s.nodeSaw.count, 0, 'on (the default): answered from the socket')
  t.equal(seen.read, asked.length, "off: every request read by Node's parser")
  t.equal(seen.routed, asked.length, 'and routed by fastify')
  const TRANSPORT = new Set(['date', 'connection', 'keep-alive'])
  const comparable = (r: WireResponse) => ({ status: r.status, body: r.body, headers: Object.fromEntries(Object.entries(r.headers).filter(([name]) => !TRANSPORT.has(name))) })
  t.same(
    viaFastify.map((r) => r.status),
    [200, 401, 403, 200, 403],
  )
  t.same(viaFastify.map(comparable), raw.map(comparable), 'the same status, headers and body as on the raw path')
})

/**
 * The server fastPathServer gives fastify, made with fastify's option defaults (and `options`
 * over them); a request nobody else takes is a 418.
 */
const factoryServer = (options: object = {}): { server: Server; install: ReturnType<typeof fastPathServer>['install'] } => {
  const { serverFactory, install } = fastPathServer()
  const node = (_req: unknown, res: { writeHead(status: number, headers: object): { end(): void } }) => res.writeHead(418, { 'content-length': '0' }).end()
  const server = (serverFactory as unknown as (handler: typeof node, opts: object) => Server)(node, {
    keepAliveTimeout: 72_000,
    requestTimeout: 0,
    connectionTimeout: 0,
    maxRequestsPerSocket: 0,
    ...options,
  })
  return { server, install }
}

/** The raw path on a server of fastPathServer's, with a stand-in authorizer. */
const standalone = async (t: Test, authorize: Authorizer['authorize'], options: { keepAliveTimeout?: number } = {}) => {
  const { server, install } = factoryServer(options)
  const { fast, lines } = standInFastPath(authorize)
  install(fast)
  const nodeSaw = { count: 0 }
  server.on('request', () => {
    nodeSaw.count += 1
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  const ask = (id: string, more: Array<[string, string]> = []) => requestText('GET', '/v3/authorize', [['x-request-id', id], ...more])
  return { server, port, lines, nodeSaw, ask }
}

t.test('on the raw path an answer that cannot be written becomes a 500, and the connection goes on', async (t) => {
  let uid = 'bad\nuid'
  const s = await standalone(t, () => allow(uid))
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => {
    chunks.push(c)
    uid = 'blt-good'
    if (chunks.length === 1) socket.end(s.ask('r-2'))
  })
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(s.ask('r-1'))
  await closed
  const got = responsesIn(Buffer.concat(chunks).toString())
  t.same(
    got.map((r) => r.status),
    [500, 200],
  )
  t.equal(JSON.parse(got[0]?.body ?? '{}').request_id, 'r-1')
  t.notMatch(got[0]?.text, /bad/, 'nothing of the bad value written')
  t.match(JSON.parse(s.lines[0] as string), { level: 50, err: { code: 'ERR_INVALID_CHAR' } })
  t.equal(s.nodeSaw.count, 0)
})

t.test('a server counting requests per socket leaves every connection to Node', async (t) => {
  const { server, install } = factoryServer({ maxRequestsPerSocket: 2 })
  install(() => false)
  t.equal(server.listeners('connection').length, 1)
  t.equal(server.listeners('connection')[0], createServer().listeners('connection')[0], "Node's own listener")
})

t.test('a client that pipelines 30 MB and never reads: the serving process grows by less than 40 MB', async (t) => {
  const MB = 1024 * 1024
  const f = await floodWithoutReading(30 * MB)
  const growth = Math.max(f.stopped.rss, f.end.rss) - f.baseline
  t.ok(f.end.paused, 'the server side stopped reading')
  t.ok(f.end.bytesRead < f.sent / 4, `${(f.end.bytesRead / MB).toFixed(1)} MB read of ${(f.sent / MB).toFixed(1)} MB sent`)
  t.ok(growth < 40 * MB, `resident set grown by ${(growth / MB).toFixed(1)} MB`)
})
