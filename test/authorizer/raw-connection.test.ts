import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import type { Authorizer, Decision } from '../../src/authorizer/decide.js'
import { fastPathServer } from '../../src/authorizer/fast-path.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'
import { exchange, requestText, responsesIn, type WireResponse } from '../support/raw-http.js'
import { allow, standInFastPath } from '../support/stand-in-fast-path.js'
import { waitFor } from '../support/wait-for.js'
import { floodWithoutReading } from '../support/unread-flood.js'

/**
 * Forward-auth's raw path (src/authorizer/raw-connection.ts): requests read from the socket's
 * bytes and answered there, until the first request that is not ours hands the connection to
 * Node's server. Node's server emits `request` for every request it reads, so counting those
 * events tells which side answered.
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
  return { app, port, clock, nodeSaw, apiKey, tok, auth, envoyAuth }
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
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('data', (c: Buffer) => {
    // The rest of the second request once the first is answered: it was read incomplete.
    if (chunks.push(c) === 1) socket.end(ok.slice(cut))
  })
  socket.write(ok + ok.slice(0, cut))
  await closed
  t.same(
    responsesIn(Buffer.concat(chunks).toString()).map((r) => r.status),
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
    const socket = connect(s.port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    // The client never ends its side: the server closes.
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve())
      socket.write(bytes)
    })
    const [raw] = responsesIn(Buffer.concat(chunks).toString())
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

t.test("a head near the server's maxHeaderSize is Node's to refuse", async (t) => {
  const { server, install } = factoryServer({ http: { maxHeaderSize: 1024 } })
  let asked = 0
  install((_req, res) => {
    asked++
    res.writeHead(200, ['content-length', '0'])
    res.end()
    return true
  })
  server.on('clientError', (_err, socket) => socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  const small = requestText('GET', '/v3/authorize', [['x-pad', 'a'.repeat(100)]])
  const big = requestText('GET', '/v3/authorize', [['x-pad', 'a'.repeat(1200)]])
  t.same(
    responsesIn(await exchange(port, [small + big])).map((r) => r.status),
    [200, 431],
  )
  t.equal(asked, 1, 'the large head never reached the handler')
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

t.test('an answer waiting for a promise holds the requests after it: answers keep their order', async (t) => {
  let release: (d: Decision) => void = () => {}
  const first = new Promise<Decision>((resolve) => {
    release = resolve
  })
  let n = 0
  const s = await standalone(t, () => (++n === 1 ? first : allow(`uid-${n}`)))
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('data', (c: Buffer) => chunks.push(c))
  await new Promise<void>((resolve) => socket.write(s.ask('a') + s.ask('b'), () => resolve()))
  // More bytes while the first answer waits, then the client's end: both wait for it too.
  await new Promise<void>((resolve) => socket.end(s.ask('c'), () => resolve()))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(chunks.length, 0, 'nothing written before the first answer')
  release(allow('uid-1'))
  await closed
  const got = responsesIn(Buffer.concat(chunks).toString())
  t.same(
    got.map((r) => [r.headers['x-request-id'], r.headers['x-token-uid']]),
    [
      ['a', 'uid-1'],
      ['b', 'uid-2'],
      ['c', 'uid-3'],
    ],
  )
  t.equal(s.nodeSaw.count, 0)
})

/** A connection whose server side has seen the client's end (FIN) before `release` is called. */
const endedWhileWaiting = async (t: Test, requests: string) => {
  let release: (d: Decision) => void = () => {}
  let n = 0
  const s = await standalone(t, () =>
    ++n === 1
      ? new Promise<Decision>((resolve) => {
          release = resolve
        })
      : allow(`uid-${n}`),
  )
  const serverEnded = new Promise<void>((resolve) => s.server.once('connection', (socket: Socket) => socket.once('end', () => resolve())))
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.end(requests)
  await serverEnded
  release(allow('uid-1'))
  await closed
  return { s, got: responsesIn(Buffer.concat(chunks).toString()) }
}

t.test("the client's end while an answer waits: what it sent before is answered, then the connection closes", async (t) => {
  const ask = (id: string, target = '/v3/authorize') => requestText('GET', target, [['x-request-id', id]])
  const ours = await endedWhileWaiting(t, ask('a') + ask('b') + ask('c'))
  t.same(
    ours.got.map((r) => [r.status, r.headers['x-request-id']]),
    [
      [200, 'a'],
      [200, 'b'],
      [200, 'c'],
    ],
    'all three answered from the socket',
  )
  t.equal(ours.s.nodeSaw.count, 0)
  // One for Node after it: Node is told of the end too, so it closes once it has answered.
  const handed = await endedWhileWaiting(t, ask('a') + ask('x', '/elsewhere'))
  t.same(
    handed.got.map((r) => r.status),
    [200, 418],
  )
  t.equal(handed.s.nodeSaw.count, 1)
})

t.test('closing the server: a connection waiting for an answer gets it, then closes', async (t) => {
  let release: (d: Decision) => void = () => {}
  let asked: () => void = () => {}
  const isAsked = new Promise<void>((resolve) => (asked = resolve))
  const s = await standalone(t, () => {
    asked()
    return new Promise<Decision>((resolve) => (release = resolve))
  })
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.write(s.ask('w'))
  await isAsked
  s.server.closeIdleConnections()
  release(allow('uid-w'))
  await closed
  t.same(
    responsesIn(Buffer.concat(chunks).toString()).map((r) => r.status),
    [200],
  )
})

t.test('more than 64 KiB sent while an answer waits closes the connection', async (t) => {
  const s = await standalone(t, () => new Promise<Decision>(() => {}))
  const socket = connect(s.port, '127.0.0.1')
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('error', () => {})
  socket.write(s.ask('x'))
  socket.write(Buffer.alloc(70 * 1024, 'a'))
  await closed
  t.pass('closed by the server')
})

t.test('an idle raw connection is closed after the keep-alive timeout', async (t) => {
  const s = await standalone(t, () => allow('uid'), { keepAliveTimeout: 50 })
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(s.ask('k'))
  await closed
  const [r] = responsesIn(Buffer.concat(chunks).toString())
  t.equal(r?.status, 200)
  t.match(r?.headers['keep-alive'], /^timeout=0$/, "the timeout as Node announces it (whole seconds)")
})

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

/**
 * The server side of the next connection to `s`, watched: the most it held written and not taken
 * by the kernel, 'data' taken while its answers were not drained, and `stopped`: it is paused
 * after a write past the highWaterMark that the kernel did not take whole (or, never paused, it
 * holds more than 1 MiB).
 */
const watchNext = (s: { server: Server }) =>
  new Promise<{ socket: Socket; most: () => number; readUndrained: () => number; stopped: Promise<void> }>((resolve) =>
    s.server.once('connection', (socket: Socket) => {
      let most = 0
      let readUndrained = 0
      let stop: () => void = () => {}
      const stopped = new Promise<void>((done) => (stop = done))
      socket.prependListener('data', () => {
        if (socket.writableNeedDrain) readUndrained++
      })
      const write = socket.write.bind(socket) as (text: string) => boolean
      socket.write = ((text: string) => {
        const ok = write(text)
        most = Math.max(most, socket.writableLength)
        if (most > 1024 * 1024) stop()
        if (!ok)
          setImmediate(() => {
            if (socket.isPaused() && socket.writableLength > 0) stop()
          })
        return ok
      }) as typeof socket.write
      resolve({ socket, most: () => most, readUndrained: () => readUndrained, stopped })
    }),
  )

t.test('a client that sends and never reads: the server stops reading while its answers are not drained, then answers all in order', async (t) => {
  // Runs of answers made at once (more than the highWaterMark), and some answers that wait for a
  // promise: holding for an answer and for 'drain' interleave.
  let n = 0
  const s = await standalone(t, () => (++n % 500 === 0 ? Promise.resolve(allow(`uid-${n}`)) : allow(`uid-${n}`)))
  const watched = watchNext(s)
  const client = connect(s.port, '127.0.0.1')
  const { socket, most, readUndrained, stopped } = await watched
  // As a proxy sends: each batch once the server has read the one before, so every read holds
  // whole requests. The client reads nothing until the server stops.
  let asked = 0
  let sent = 0
  const batch = () => {
    let text = ''
    while (text.length < 32_000) text += s.ask(String(asked++))
    sent += text.length
    client.write(text)
  }
  let flooding = true
  socket.on('data', () => {
    if (flooding && socket.bytesRead === sent) batch()
  })
  batch()
  await stopped
  flooding = false
  t.ok(socket.isPaused(), 'the server side stopped reading')
  t.equal(readUndrained(), 0, 'no bytes taken while written answers were not drained')
  t.ok(asked > 1000, `${asked} requests sent before it stopped`)

  // More requests and the client's end while the server is stopped; then the client reads.
  client.end(s.ask('after') + s.ask('end'))
  const chunks: Buffer[] = []
  client.on('data', (c: Buffer) => chunks.push(c))
  await new Promise<void>((resolve) => client.on('close', () => resolve()))
  const got = responsesIn(Buffer.concat(chunks).toString())
  t.same(
    got.map((r) => r.headers['x-request-id']),
    [...Array.from({ length: asked }, (_, i) => String(i)), 'after', 'end'],
    'every answer, in order',
  )
  t.ok(
    got.every((r) => r.status === 200),
    'all allowed',
  )
  t.equal(s.nodeSaw.count, 0, 'all answered from the socket')
  const answer = Math.max(...got.map((r) => r.text.length))
  t.ok(most() < socket.writableHighWaterMark + answer, `at most ${most()} bytes written and not taken: under the highWaterMark (${socket.writableHighWaterMark}) and one answer (${answer})`)
})

/** A client connected to `s`, and the server's side of that connection once accepted. */
const connected = async (s: { server: Server; port: number }) => {
  const accepted = new Promise<Socket>((resolve) => s.server.once('connection', resolve))
  const client = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  client.on('data', (c: Buffer) => chunks.push(c))
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))
  return { client, server: await accepted, closed, received: () => Buffer.concat(chunks).toString() }
}

t.test("an answer that waited for a promise and fills the socket: the requests after it wait for 'drain', then go on, to Node from one incomplete", async (t) => {
  let release: (d: Decision) => void = () => {}
  let asked: () => void = () => {}
  const isAsked = new Promise<void>((resolve) => (asked = resolve))
  let n = 0
  const s = await standalone(t, () => {
    if (++n > 1) return allow(`uid-${n}`)
    asked()
    return new Promise<Decision>((resolve) => (release = resolve))
  })
  const { client, server, closed, received } = await connected(s)
  // Corked, the socket keeps what is written, as a kernel whose buffers a client does not read.
  server.cork()
  const c = s.ask('c')
  client.write(s.ask('a') + s.ask('b') + c.slice(0, 20))
  await isAsked
  // An answer larger than the highWaterMark.
  release({ allowed: true, outcome: 'allow', tokenUid: 'uid-1', apiKey: 'blt1', method: 'GET', url: '/v3/assets', headers: { 'x-pad': 'p'.repeat(server.writableHighWaterMark) } })
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(server.isPaused() && server.writableNeedDrain, 'paused until drained')
  t.ok(server.writableLength < server.writableHighWaterMark + 500, `only the first answer written (${server.writableLength} bytes)`)
  // The rest of 'c' read while paused, still in the socket's stream: Node, given the connection
  // at 'c', gets it. ('d' asks to close: Node's server ends the connection once it has answered.)
  client.write(c.slice(20) + s.ask('d', [['Connection', 'close']]))
  await waitFor(() => server.readableLength > 0, { label: "the last request in the server's stream" })
  server.uncork()
  await closed
  t.same(
    responsesIn(received()).map((r) => [r.status, r.headers['x-request-id'], r.headers['x-token-uid']]),
    [
      [200, 'a', 'uid-1'],
      [200, 'b', 'uid-2'],
      [200, 'c', 'uid-3'],
      [200, 'd', 'uid-4'],
    ],
  )
  t.equal(s.nodeSaw.count, 2, "from the incomplete request on, Node's server reads")
})

t.test('an answer waited for, to a request that asks to close: written, then the connection closes, what came after unanswered', async (t) => {
  let release: (d: Decision) => void = () => {}
  const s = await standalone(t, () => new Promise<Decision>((resolve) => (release = resolve)))
  const { client, server, closed, received } = await connected(s)
  const read = () => new Promise<void>((resolve) => server.once('data', () => resolve()))
  let reading = read()
  client.write(s.ask('a', [['Connection', 'close']]))
  await reading
  reading = read()
  client.write(s.ask('b'))
  await reading
  release(allow('uid-a'))
  await closed
  const got = responsesIn(received())
  t.same(
    got.map((r) => [r.status, r.headers['x-request-id'], r.headers.connection]),
    [[200, 'a', 'close']],
  )
  t.equal(s.nodeSaw.count, 0)
})

t.test('a client that pipelines 30 MB and never reads: the serving process grows by less than 40 MB', async (t) => {
  const MB = 1024 * 1024
  const f = await floodWithoutReading(30 * MB)
  const growth = Math.max(f.stopped.rss, f.end.rss) - f.baseline
  t.ok(f.end.paused, 'the server side stopped reading')
  t.ok(f.end.bytesRead < f.sent / 4, `${(f.end.bytesRead / MB).toFixed(1)} MB read of ${(f.sent / MB).toFixed(1)} MB sent`)
  t.ok(growth < 40 * MB, `resident set grown by ${(growth / MB).toFixed(1)} MB`)
})
