import { createServer, type Server } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { type RawHandler, type RawRequest, readRaw } from '../../src/raw-http/index.js'
import { exchange, requestText, responsesIn, untilClosed, type WireResponse } from '../support/raw-http.js'
import { type Decide, headerOf, ours, type Said, standInServer } from '../support/raw-stand-in.js'
import { waitFor } from '../support/wait-for.js'

/**
 * The socket reader (src/raw-http/connection.ts) with a stand-in handler, no authorizer: requests
 * read from the socket's bytes and answered there, until the first request that is not the
 * handler's hands the connection to Node's server. Node's server emits `request` for every
 * request it reads, so counting those events tells which side answered.
 */

/** Set by the clock, not by the handler. */
const withoutDate = (r: WireResponse) => r.text.replace(/\r\nDate: [^\r]*/, '\r\nDate: -')

/** A client connected to `s`, and the server's side of that connection once accepted. */
const connected = async (s: { server: Server; port: number }) => {
  const accepted = new Promise<Socket>((resolve) => s.server.once('connection', resolve))
  const client = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  client.on('data', (c: Buffer) => chunks.push(c))
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))
  return { client, server: await accepted, closed, received: () => Buffer.concat(chunks).toString() }
}

/** Answers later: the first call waits for `release`, the others as `then(n)`. */
const firstWaits = (then: (n: number) => Said | undefined = (n) => said(`uid-${n}`)) => {
  let release: (s: Said) => void = () => {}
  const first = new Promise<Said>((resolve) => (release = resolve))
  let asked: () => void = () => {}
  const isAsked = new Promise<void>((resolve) => (asked = resolve))
  let n = 0
  const decide: Decide = () => {
    if (++n > 1) return then(n)
    asked()
    return first
  }
  return { decide, isAsked, release: (s: Said) => release(s) }
}
const said = (uid: string, more: string[] = []): Said => ({ status: 200, headers: ['x-uid', uid, ...more], body: '' })

t.test("the handler's answers are the bytes Node's server writes for the same handler", async (t) => {
  const decide: Decide = (req) => {
    if (req.url === '/elsewhere') return undefined
    const status = req.url?.includes('deny') ? 403 : 200
    return { status, headers: ['x-request-id', headerOf(req, 'x-request-id') ?? '-', 'Content-Type', 'application/json; charset=utf-8'], body: `{"url":${JSON.stringify(req.url)}}` }
  }
  const s = await standInServer(t, decide)
  const asked = [
    requestText('GET', '/ours?x=1', [['x-request-id', 'a']]),
    requestText('GET', '/deny', [['x-request-id', 'b']]),
    requestText('HEAD', '/ours', [['x-request-id', 'c']]),
    requestText('DELETE', '/ours/blt1', [['x-request-id', 'd']]),
  ]
  const methods = ['GET', 'GET', 'HEAD', 'DELETE']
  const raw = responsesIn(await exchange(s.port, [asked.join('')]), methods)
  t.same(
    raw.map((r) => r.status),
    [200, 403, 200, 200],
    'every answer, in order',
  )
  t.equal(s.nodeSaw.count, 0, "Node's server read none of them")
  t.equal(raw[2]?.body, '', 'HEAD: no body')
  t.equal(raw[0]?.headers.connection, 'keep-alive')
  t.equal(raw[0]?.headers['keep-alive'], 'timeout=5', "Node's default keep-alive, announced as Node does")

  // The same requests after one the handler leaves: Node's server reads them.
  const viaNode = responsesIn(await exchange(s.port, [requestText('GET', '/elsewhere') + asked.join('')]), ['GET', ...methods]).slice(1)
  t.equal(s.nodeSaw.count, 1 + asked.length, 'Node read the connection from the first request that was not the handler')
  t.same(viaNode.map(withoutDate), raw.map(withoutDate), 'byte for byte the same answers, Date aside')
})

t.test("a request the handler leaves is Node's, with every byte after it: its body, the requests that follow", async (t) => {
  const s = await standInServer(t)
  const body = 'x'.repeat(3000)
  const post = requestText('POST', '/ours', [['content-length', String(body.length)]], body)
  const got = responsesIn(await exchange(s.port, [s.ask('a') + post + s.ask('b') + s.ask('c')]))
  t.same(
    got.map((r) => [r.status, r.headers['x-request-id'] ?? r.headers['x-body-length']]),
    [
      [200, 'a'],
      [418, '3000'],
      [200, 'b'],
      [200, 'c'],
    ],
    "the whole body read by Node's parser, then the requests after it",
  )
  t.equal(s.nodeSaw.count, 3, 'the POST and what followed went to Node')
})

t.test('the handler leaving a request it was offered hands the connection over at that request', async (t) => {
  const s = await standInServer(t, (req) => (headerOf(req, 'x-request-id') === 'leave' ? undefined : ours(req)))
  const got = responsesIn(await exchange(s.port, [s.ask('a') + s.ask('leave') + s.ask('b')]))
  t.same(
    got.map((r) => r.status),
    [200, 418, 200],
  )
  t.equal(s.nodeSaw.count, 2, "the one left, and the next: Node's from then on")
})

t.test("no handler: every connection is Node's from the start", async (t) => {
  const s = await standInServer(t)
  s.setOn(false)
  const got = responsesIn(await exchange(s.port, [s.ask('a') + s.ask('b')]))
  t.same(
    got.map((r) => [r.status, r.headers['x-request-id']]),
    [
      [200, 'a'],
      [200, 'b'],
    ],
    "the handler, called by Node's request listener",
  )
  t.equal(s.nodeSaw.count, 2)
  s.setOn(true)
  responsesIn(await exchange(s.port, [s.ask('c')]))
  t.equal(s.nodeSaw.count, 2, 'on again: from the socket')
})

t.test('a request split across writes: the first answered, the incomplete one given to Node with its bytes', async (t) => {
  const s = await standInServer(t)
  const ok = s.ask('x')
  const cut = Math.floor(ok.length / 2)
  const got = await untilClosed(
    s.port,
    (socket) => socket.write(ok + ok.slice(0, cut)),
    (socket, received) => received === 1 && socket.end(ok.slice(cut)),
  )
  t.same(
    responsesIn(got).map((r) => r.status),
    [200, 200],
  )
  t.equal(s.nodeSaw.count, 1, 'the first from the socket, the second by Node, incomplete when read')
})

t.test('HTTP/1.0 and Connection: close are answered with Connection: close, then the server closes', async (t) => {
  const s = await standInServer(t)
  for (const [name, bytes] of [
    ['HTTP/1.0', requestText('GET', '/ours', [], '', '1.0')],
    ['Connection: close', requestText('GET', '/ours', [['Connection', 'close']])],
  ] as const) {
    // The client never ends its side: the server closes.
    const [raw] = responsesIn(await untilClosed(s.port, (socket) => socket.write(bytes)))
    t.equal(raw?.status, 200, name)
    t.equal(raw?.headers.connection, 'close', `${name}: Connection: close`)
    t.equal(s.nodeSaw.count, 0, `${name}: Node's server never read it`)
    const [, viaNode] = responsesIn(await exchange(s.port, [requestText('GET', '/elsewhere') + bytes]))
    s.nodeSaw.count = 0
    t.equal(viaNode && withoutDate(viaNode), raw && withoutDate(raw), `${name}: as Node answers it`)
  }
})

t.test('what the handler reads of a request is what it reads of Node’s, x-forwarded-for joined as Node joins it', async (t) => {
  const seen: Array<Pick<RawRequest, 'method' | 'url' | 'rawHeaders' | 'headers'> & { address: string | undefined }> = []
  const s = await standInServer(t, (req) => {
    if (req.url === '/elsewhere') return undefined
    seen.push({ method: req.method, url: req.url, rawHeaders: [...req.rawHeaders], headers: { 'x-forwarded-for': req.headers['x-forwarded-for'] }, address: req.socket.remoteAddress })
    return ours(req)
  })
  const asked = requestText('GET', '/ours?q=%7B%7D', [
    ['X-Forwarded-For', '203.0.113.5'],
    ['x-request-id', 'r'],
    ['x-forwarded-for', '10.0.0.1, 10.0.0.2'],
  ])
  await exchange(s.port, [asked])
  await exchange(s.port, [requestText('GET', '/elsewhere') + asked])
  t.equal(seen.length, 2)
  t.same(seen[0], seen[1], 'the same method, target, raw headers, x-forwarded-for and address on both paths')
  t.equal(seen[0]?.headers['x-forwarded-for'], '203.0.113.5, 10.0.0.1, 10.0.0.2')
  t.equal(s.nodeSaw.count, 2, 'the first from the socket, the second by Node')
})

t.test("a head near the server's maxHeaderSize is Node's to refuse", async (t) => {
  let asked = 0
  const s = await standInServer(
    t,
    (req) => {
      asked++
      return ours(req)
    },
    { maxHeaderSize: 1024 },
  )
  s.server.on('clientError', (_err, socket) => socket.end('HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n'))
  const small = s.ask('s', [['x-pad', 'a'.repeat(100)]])
  const big = s.ask('b', [['x-pad', 'a'.repeat(1200)]])
  t.same(
    responsesIn(await exchange(s.port, [small + big])).map((r) => r.status),
    [200, 431],
  )
  t.equal(asked, 1, 'the large head never reached the handler')
})

t.test('an answer waiting for a promise holds the requests after it: answers keep their order', async (t) => {
  const w = firstWaits()
  const s = await standInServer(t, w.decide)
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('data', (c: Buffer) => chunks.push(c))
  await new Promise<void>((resolve) => socket.write(s.ask('a') + s.ask('b'), () => resolve()))
  // More bytes while the first answer waits, then the client's end: both wait for it too.
  await new Promise<void>((resolve) => socket.end(s.ask('c'), () => resolve()))
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(chunks.length, 0, 'nothing written before the first answer')
  w.release(said('uid-1'))
  await closed
  t.same(
    responsesIn(Buffer.concat(chunks).toString()).map((r) => r.headers['x-uid']),
    ['uid-1', 'uid-2', 'uid-3'],
  )
  t.equal(s.nodeSaw.count, 0)
})

/** A connection whose server side has seen the client's end (FIN) before the first answer is released. */
const endedWhileWaiting = async (t: Test, requests: string) => {
  const w = firstWaits((n) => said(`uid-${n}`))
  const s = await standInServer(t, (req) => (req.url === '/elsewhere' ? undefined : w.decide(req)))
  const serverEnded = new Promise<void>((resolve) => s.server.once('connection', (socket: Socket) => socket.once('end', () => resolve())))
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.end(requests)
  await serverEnded
  w.release(said('uid-1'))
  await closed
  return { s, got: responsesIn(Buffer.concat(chunks).toString()) }
}

t.test("the client's end while an answer waits: what it sent before is answered, then the connection closes", async (t) => {
  const ask = (id: string, target = '/ours') => requestText('GET', target, [['x-request-id', id]])
  const ours3 = await endedWhileWaiting(t, ask('a') + ask('b') + ask('c'))
  t.same(
    ours3.got.map((r) => [r.status, r.headers['x-uid']]),
    [
      [200, 'uid-1'],
      [200, 'uid-2'],
      [200, 'uid-3'],
    ],
    'all three answered from the socket',
  )
  t.equal(ours3.s.nodeSaw.count, 0)
  // One for Node after it: the stream has ended, so Node is given the bytes and the end as events.
  const handed = await endedWhileWaiting(t, ask('a') + ask('x', '/elsewhere'))
  t.same(
    handed.got.map((r) => r.status),
    [200, 418],
  )
  t.equal(handed.s.nodeSaw.count, 1)
})

t.test('closing the server: a connection waiting for an answer gets it, then closes; an idle one closes at once', async (t) => {
  const w = firstWaits()
  const s = await standInServer(t, w.decide)
  const waiting = await connected(s)
  waiting.client.write(s.ask('w'))
  await w.isAsked
  const idle = await connected(s)
  idle.client.write(s.ask('i'))
  await waitFor(() => idle.received().length > 0, { label: 'the idle connection answered' })
  s.server.closeIdleConnections()
  await idle.closed
  w.release(said('uid-w'))
  await waiting.closed
  t.same(
    responsesIn(waiting.received()).map((r) => [r.status, r.headers['x-uid']]),
    [[200, 'uid-w']],
  )
})

t.test('closeAllConnections closes the connections read from the socket too', async (t) => {
  const s = await standInServer(t, () => new Promise<Said>(() => {}))
  const c = await connected(s)
  c.client.write(s.ask('w'))
  await new Promise<void>((resolve) => c.server.once('data', () => resolve()))
  s.server.closeAllConnections()
  await c.closed
  t.equal(c.received(), '', 'closed without an answer')
})

t.test('more than 64 KiB sent while an answer waits closes the connection', async (t) => {
  const s = await standInServer(t, () => new Promise<Said>(() => {}))
  const socket = connect(s.port, '127.0.0.1')
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.on('error', () => {})
  socket.write(s.ask('x'))
  socket.write(Buffer.alloc(70 * 1024, 'a'))
  await closed
  t.pass('closed by the server')
})

t.test('an idle connection read from the socket is closed after the keep-alive timeout', async (t) => {
  const s = await standInServer(t, ours, {}, 50)
  const socket = connect(s.port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()))
  socket.write(s.ask('k'))
  await closed
  const [r] = responsesIn(Buffer.concat(chunks).toString())
  t.equal(r?.status, 200)
  t.equal(r?.headers['keep-alive'], 'timeout=0', 'the timeout as Node announces it (whole seconds)')
})

t.test('a header Node would refuse: writeHead throws ERR_INVALID_CHAR, nothing is written, the handler answers otherwise', async (t) => {
  const thrown: unknown[] = []
  const handler: RawHandler = (req, res) => {
    try {
      res.writeHead(200, ['x-uid', headerOf(req, 'x-request-id') === 'bad' ? 'bad\nvalue' : 'good', 'content-length', '0'])
    } catch (err) {
      thrown.push(err)
      res.writeHead(500, ['content-length', '0'])
    }
    res.end()
    return true
  }
  const server = createServer(() => {})
  readRaw(server, () => handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  const ask = (id: string) => requestText('GET', '/', [['x-request-id', id]])
  const text = await exchange(port, [ask('bad') + ask('ok')])
  t.same(
    responsesIn(text).map((r) => r.status),
    [500, 200],
  )
  t.notMatch(text, /bad/, 'nothing of the bad value written')
  t.match(thrown, [{ code: 'ERR_INVALID_CHAR' }])
})

t.test('a handler that throws: the connection is closed, nothing answered', async (t) => {
  const server = createServer(() => {})
  readRaw(server, () => () => {
    throw new Error('handler bug')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  t.equal(await exchange(port, [requestText('GET', '/')]), '')
})

t.test('a handler that destroys its answer closes the connection', async (t) => {
  const server = createServer(() => {})
  readRaw(server, () => (_req, res) => {
    res.destroy()
    return true
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  t.equal(await exchange(port, [requestText('GET', '/') + requestText('GET', '/')]), '', 'closed, nothing written')
})

t.test('a connection reset by the client while an answer waits is closed on the server side', async (t) => {
  const w = firstWaits()
  const s = await standInServer(t, w.decide)
  const { client, server } = await connected(s)
  const serverClosed = new Promise<void>((resolve) => server.on('close', () => resolve()))
  client.on('error', () => {})
  client.write(s.ask('r'))
  await w.isAsked
  client.resetAndDestroy()
  await serverClosed
  w.release(said('uid-r'))
  t.ok(server.destroyed, 'the server side is gone; the late answer is dropped')
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
  const s = await standInServer(t, (req) => {
    const a = ours(req) as Said
    return ++n % 500 === 0 ? Promise.resolve(a) : a
  })
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
    'all answered 200',
  )
  t.equal(s.nodeSaw.count, 0, 'all answered from the socket')
  const answer = Math.max(...got.map((r) => r.text.length))
  t.ok(most() < socket.writableHighWaterMark + answer, `at most ${most()} bytes written and not taken: under the highWaterMark (${socket.writableHighWaterMark}) and one answer (${answer})`)
})

t.test("an answer that waited for a promise and fills the socket: the requests after it wait for 'drain', then go on, to Node from one incomplete", async (t) => {
  const w = firstWaits()
  const s = await standInServer(t, w.decide)
  const { client, server, closed, received } = await connected(s)
  // Corked, the socket keeps what is written, as a kernel whose buffers a client does not read.
  server.cork()
  const c = s.ask('c')
  client.write(s.ask('a') + s.ask('b') + c.slice(0, 20))
  await w.isAsked
  // An answer larger than the highWaterMark.
  w.release(said('uid-1', ['x-pad', 'p'.repeat(server.writableHighWaterMark)]))
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(server.isPaused() && server.writableNeedDrain, 'paused until drained')
  t.ok(server.writableLength < server.writableHighWaterMark + 500, `only the first answer written (${server.writableLength} bytes)`)
  // The rest of 'c' read while paused, still in the socket's stream: Node, given the connection
  // at 'c' (its first bytes put back in front of the stream), reads it whole. ('d' asks to close:
  // Node's server ends the connection once it has answered.)
  client.write(c.slice(20) + s.ask('d', [['Connection', 'close']]))
  await waitFor(() => server.readableLength > 0, { label: "the last request in the server's stream" })
  server.uncork()
  await closed
  t.same(
    responsesIn(received()).map((r) => [r.status, r.headers['x-uid']]),
    [
      [200, 'uid-1'],
      [200, 'uid-2'],
      [200, 'uid-3'],
      [200, 'uid-4'],
    ],
  )
  t.equal(s.nodeSaw.count, 2, "from the incomplete request on, Node's server reads")
})

t.test('an answer waited for, to a request that asks to close: written, then the connection closes, what came after unanswered', async (t) => {
  const w = firstWaits()
  const s = await standInServer(t, w.decide)
  const { client, server, closed, received } = await connected(s)
  const read = () => new Promise<void>((resolve) => server.once('data', () => resolve()))
  let reading = read()
  client.write(s.ask('a', [['Connection', 'close']]))
  await reading
  reading = read()
  client.write(s.ask('b'))
  await reading
  w.release(said('uid-a'))
  await closed
  t.same(
    responsesIn(received()).map((r) => [r.status, r.headers['x-uid'], r.headers.connection]),
    [[200, 'uid-a', 'close']],
  )
  t.equal(s.nodeSaw.count, 0)
})

t.test('a request that asks to close, with more bytes after it, is Node’s: it refuses what follows', async (t) => {
  const s = await standInServer(t)
  const refused: unknown[] = []
  s.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    refused.push(err.code)
    socket.destroy()
  })
  const close = s.ask('a', [['Connection', 'close']])
  const got = responsesIn(await exchange(s.port, [close + close]))
  t.same(
    got.map((r) => [r.status, r.headers.connection]),
    [[200, 'close']],
  )
  t.equal(s.nodeSaw.count, 1, "Node's parser read the first")
  t.same(refused, ['HPE_CLOSED_CONNECTION'], 'and refused the bytes after it')
})
