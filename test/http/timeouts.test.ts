/**
 * Slow clients cannot hold connections (REQUEST_TIMEOUT_MS), on a real socket: a body that never
 * arrives, headers that never end, an idle keep-alive connection. The only waits are bounded
 * waits for the server to close the socket.
 */
import { connect } from 'node:net'
import t from 'tap'
import { OWNER, startApp } from '../support/app.js'

const TIMEOUT_MS = 300
/** Slack for a busy 2-core machine; Node checks every TIMEOUT_MS / 4 (fast-path.ts). */
const BOUND_MS = 5000

/** Writes `bytes`, keeps the socket open, and resolves once the server closed it. */
const heldOpen = (port: number, bytes: string) =>
  new Promise<{ text: string; ms: number }>((resolve, reject) => {
    const started = Date.now()
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes))
    const bound = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the server kept the connection open for ${BOUND_MS} ms`))
    }, BOUND_MS)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(bound)
      resolve({ text: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started })
    })
  })

t.test(`REQUEST_TIMEOUT_MS=${TIMEOUT_MS}: slow or idle clients are cut off`, async (t) => {
  const a = await startApp(t, { config: { requestTimeoutMs: TIMEOUT_MS } })
  await a.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (a.app.server.address() as { port: number }).port
  t.equal(a.app.server.requestTimeout, TIMEOUT_MS)
  t.equal(a.app.server.headersTimeout, TIMEOUT_MS)
  t.equal(a.app.server.keepAliveTimeout, TIMEOUT_MS)

  const body = await heldOpen(
    port,
    `POST /v3/stacks HTTP/1.1\r\nHost: x\r\nauthtoken: ${a.authtoken(OWNER)}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"stack":`,
  )
  t.match(body.text, /^HTTP\/1\.1 408 /, 'a body that never arrives: 408')
  t.same(JSON.parse(body.text.split('\r\n\r\n')[1] as string), {
    error_message: 'The request did not arrive in time.',
    error_code: 100,
    errors: { request: ['did not arrive in time'] },
  })
  t.ok(body.ms >= TIMEOUT_MS - 10, `not before the timeout (${body.ms} ms)`)
  t.comment(`body never arrives: closed after ${body.ms} ms`)

  const headers = await heldOpen(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nx-slow: ')
  t.match(headers.text, /^HTTP\/1\.1 408 /, 'headers that never end: 408')
  t.comment(`headers never end: closed after ${headers.ms} ms`)

  const idle = await heldOpen(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
  t.match(idle.text, /^HTTP\/1\.1 200 /, 'a complete request is answered')
  t.ok(idle.ms >= TIMEOUT_MS - 10, `the idle keep-alive connection is closed after the timeout (${idle.ms} ms)`)
  t.comment(`idle keep-alive: closed after ${idle.ms} ms`)
})

t.test('the default is 30 s for requests, headers and idle keep-alive connections', async (t) => {
  const a = await startApp(t)
  await a.app.listen({ port: 0, host: '127.0.0.1' })
  t.equal(a.app.server.requestTimeout, 30_000)
  t.equal(a.app.server.headersTimeout, 30_000)
  t.equal(a.app.server.keepAliveTimeout, 30_000)
})
