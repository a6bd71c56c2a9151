/**
 * Forward-auth without fastify's per-request work. A proxy asks `/v3/authorize` before every
 * request it forwards, so this endpoint's cost is the gateway's: the decision takes a few
 * microseconds, while fastify's routing, request and reply objects, hooks and header handling
 * cost several times that (bench/authorizer.ts, docs/benchmarks.md). So the HTTP
 * server that buildApp gives fastify (`serverFactory`) first offers each request to a plain
 * handler, which answers the common case: a bodiless GET/HEAD on `/v3/authorize` or a
 * bodiless request on the Envoy prefix. It is offered the requests the socket reader
 * (src/raw-http/) reads from the connection's bytes, and those Node's server reads (a connection
 * handed over): this file is the glue that makes forward-auth a handler of the reader's
 * contract (`RawHandler`). Everything else, and anything unusual (a body, the app closing), goes
 * to fastify as before. Both judge the same canonical form (canonical.ts), so a percent-encoded
 * Envoy path gets the same answer here.
 * Both paths build their answer with `answerOf` and the request id with buildApp's function, so
 * they cannot drift; test/authorizer/fast-path.test.ts compares them header for header.
 */
import { createServer, type ServerOptions } from 'node:http'
import type { FastifyBaseLogger, FastifyServerFactory } from 'fastify'
import { type RawHandler, type RawRequest, type RawResponse, readRaw } from '../raw-http/index.js'
import type { Authorizer, Decision } from './decide.js'
import { DECIDED_METHODS, type Refusal } from './canonical.js'
import { type Answer, answerOf, ENVOY_PREFIX, jsonAnswer } from './forward-auth-answer.js'
import { describedByEnvoy, describedByHeaders, type Described, type ForwardAuthProxy, scanHeaders } from './origin.js'
import { askedInputOf } from './request-input.js'
// Before any start-up work: keeps nextTick's entries monomorphic (see tick-shape.ts).
import './tick-shape.js'

/** buildApp's error handler as a value (the `{error_message, error_code, errors}` body), so that a failure is answered alike here. */
export interface ErrorAnswer {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly body: object
  readonly log?: { readonly level: 'warn' | 'error'; readonly message: string }
}

/** What buildApp lends the forward-auth surface. */
export interface FastPathHost {
  /** Puts a handler in front of fastify's; `undefined` removes it. */
  install(handler: RawHandler | undefined): void
  /** What buildApp's `genReqId` makes of a request's `x-request-id` (sent once, else undefined). */
  readonly requestIdFrom: (given: string | undefined) => string
  readonly errorAnswer: (err: unknown, requestId: string) => ErrorAnswer
}

/**
 * The HTTP/1 server fastify would create for itself (lib/server.js: same options and timeouts),
 * with a slot for a fast handler. Fastify then handles close and idle connections as usual.
 * Each new connection is read by the socket reader first (`readRaw`), which answers what the
 * fast handler takes and hands the connection to Node's server at the first request it does not.
 * A server that counts requests per socket (`maxRequestsPerSocket`) leaves every connection to
 * Node, which does the counting.
 */
export const fastPathServer = (): { readonly serverFactory: FastifyServerFactory; install: FastPathHost['install'] } => {
  let fast: RawHandler | undefined
  const serverFactory: FastifyServerFactory = (handler, opts) => {
    // Fastify's options after its defaults (fastify.js): the timeouts are always numbers.
    const options = opts as { http?: ServerOptions; keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number }
    // Node enforces the request and header timeouts only when it checks its connections (every
    // 30 s by default): check four times per timeout, so a slow client is cut off within 1.25 x.
    const checking = options.requestTimeout > 0 ? Math.max(25, Math.min(30_000, Math.ceil(options.requestTimeout / 4))) : undefined
    const server = createServer({ ...options.http, ...(checking ? { connectionsCheckingInterval: checking } : {}) }, (req, res) => {
      if (fast === undefined || !fast(req, res)) handler(req, res)
    })
    server.keepAliveTimeout = options.keepAliveTimeout
    server.requestTimeout = options.requestTimeout
    // Headers are part of the request: never allowed longer than the whole of it.
    if (options.requestTimeout > 0) server.headersTimeout = Math.min(server.headersTimeout, options.requestTimeout)
    server.setTimeout(options.connectionTimeout)
    if (options.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = options.maxRequestsPerSocket
    else readRaw(server, () => fast)
    return server
  }
  return {
    serverFactory,
    install: (handler) => {
      fast = handler
    },
  }
}

const AUTHORIZE = '/v3/authorize'
const AUTHORIZE_QUERY = `${AUTHORIZE}?`
const ENVOY = `${ENVOY_PREFIX}/`
/** The methods of the fastify Envoy route (forward-auth.ts). */
const envoyMethods: ReadonlySet<string> = new Set(DECIDED_METHODS)

export interface ForwardAuthFastPathOptions {
  readonly authorizer: Authorizer
  readonly rateLimitAs403: boolean
  readonly proxy: ForwardAuthProxy
  readonly trust: (address: string, hop: number) => boolean
  readonly host: Pick<FastPathHost, 'requestIdFrom' | 'errorAnswer'>
  /** Failures only: requests are counted by the authorizer's metrics, not logged. */
  readonly log: FastifyBaseLogger
}

/** The fast handler for the routes of forward-auth.ts. */
export const forwardAuthFastPath = ({ authorizer, rateLimitAs403, proxy, trust, host, log }: ForwardAuthFastPathOptions): RawHandler => {
  const send = (req: RawRequest, res: RawResponse, id: string, a: Answer) => {
    a.headers.push('x-request-id', id)
    res.writeHead(a.status, a.headers)
    res.end(req.method === 'HEAD' ? undefined : a.body)
  }
  // As fastify's error handler would answer a handler that threw or rejected. Never throws: a
  // failure here closes the socket rather than leave the client waiting.
  const fail = (req: RawRequest, res: RawResponse, id: string, err: unknown) => {
    try {
      const e = host.errorAnswer(err, id)
      if (e.log) log[e.log.level]({ err, reqId: id }, e.log.message)
      if (!res.headersSent) {
        send(req, res, id, jsonAnswer(e.statusCode, e.headers, e.body))
        return
      }
      /* c8 ignore start: the headers were written already, or the answer cannot be written */
    } catch {
      // nothing more can be said on this socket
    }
    res.destroy()
  }
  /* c8 ignore stop */
  const answer = (req: RawRequest, res: RawResponse, id: string, d: Decision) => {
    try {
      send(req, res, id, answerOf(d, rateLimitAs403))
    } catch (err) {
      fail(req, res, id, err)
    }
  }

  return (req, res) => {
    const url = req.url as string
    const method = req.method as string
    const envoy = url.startsWith(ENVOY)
    if (envoy) {
      // A percent-encoded path is fastify's: it refuses one that does not decode (400).
      if (!envoyMethods.has(method) || url.includes('%')) return false
    } else if (!((url === AUTHORIZE || url.startsWith(AUTHORIZE_QUERY)) && (method === 'GET' || method === 'HEAD'))) return false
    // One pass over the raw list reads what is needed and sees repeated headers, which
    // `req.headers` folds or drops (Node 20 builds that object anyway, to check host and expect).
    const headers = scanHeaders(req.rawHeaders)
    // No body: fastify would not read one either, and an unread body would stay on the socket.
    if (headers.body) return false
    const described: Described | Refusal = envoy ? describedByEnvoy(headers, proxy, method, url.slice(ENVOY_PREFIX.length)) : describedByHeaders(headers, proxy)

    const id = host.requestIdFrom(headers.requestId)
    try {
      const d = authorizer.authorize(askedInputOf(req, headers, described, trust))
      if (d instanceof Promise)
        d.then(
          (x) => answer(req, res, id, x),
          (err: unknown) => fail(req, res, id, err),
        )
      else answer(req, res, id, d)
    } catch (err) {
      fail(req, res, id, err)
    }
    return true
  }
}
