/**
 * The socket reader (src/raw-http/) on its own: a plain `node:http` server with `readRaw` in
 * front and a stand-in handler written against the reader's contract only, no authorizer. The
 * same handler answers the requests Node's server reads (a connection handed over), so the two
 * paths can be compared byte for byte; a request it leaves is answered by Node's listener with
 * 418 and the length of the body it read (at once when there is none).
 */
import { createServer, type Server, type ServerOptions } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'
import { type RawHandler, type RawRequest, readRaw } from '../../src/raw-http/index.js'
import { requestText } from './raw-http.js'

/** An answer: status, `[name, value, ...]` (content-length is added), body. */
export interface Said {
  readonly status: number
  readonly headers: readonly string[]
  readonly body: string
}

/** The stand-in's answer to a request, now or later; undefined leaves the request to Node's server. */
export type Decide = (req: RawRequest) => Said | Promise<Said> | undefined

/** The value of a header (the first of its name, any case). */
export const headerOf = (req: RawRequest, name: string): string | undefined => {
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === name) return req.rawHeaders[i + 1]
  return undefined
}

export const standInHandler =
  (decide: Decide): RawHandler =>
  (req, res) => {
    const said = decide(req)
    if (said === undefined) return false
    const send = (s: Said) => {
      res.writeHead(s.status, [...s.headers, 'content-length', String(Buffer.byteLength(s.body))])
      res.end(req.method === 'HEAD' ? undefined : s.body)
    }
    if (said instanceof Promise) void said.then(send)
    else send(said)
    return true
  }

/** 200 to `GET|HEAD /ours...`, echoing `x-request-id`, with a body; every other request is Node's. */
export const ours: Decide = (req) =>
  (req.method === 'GET' || req.method === 'HEAD') && req.url?.startsWith('/ours') ? { status: 200, headers: ['x-request-id', headerOf(req, 'x-request-id') ?? '-'], body: `{"ok":true}` } : undefined

export interface StandIn {
  readonly server: Server
  readonly port: number
  /** Requests Node's server read (its `request` events): the rest were answered from the socket. */
  readonly nodeSaw: { count: number }
  /** Switches the handler off (undefined from the reader's `handler()`) or on again. */
  readonly setOn: (on: boolean) => void
  /** `GET /ours` with an `x-request-id`, and more headers. */
  readonly ask: (id: string, more?: Array<[string, string]>) => string
}

/** Listening on a loopback port until the test ends. */
export const standInServer = async (t: Test, decide: Decide = ours, options: ServerOptions = {}, keepAliveTimeout?: number): Promise<StandIn> => {
  const handler = standInHandler(decide)
  let on = true
  const nodeSaw = { count: 0 }
  const server = createServer(options, (req, res) => {
    nodeSaw.count += 1
    if (handler(req, res)) return
    const refuse = (length: number) => res.writeHead(418, ['x-body-length', String(length), 'content-length', '0']).end()
    // Answered at once when there is no body, as a handler that answers at once.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return refuse(0)
    let length = 0
    req.on('data', (c: Buffer) => (length += c.length))
    req.on('end', () => refuse(length))
  })
  if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout
  readRaw(server, () => (on ? handler : undefined))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as AddressInfo
  return {
    server,
    port,
    nodeSaw,
    setOn: (value) => {
      on = value
    },
    ask: (id, more = []) => requestText('GET', '/ours', [['x-request-id', id], ...more]),
  }
}
