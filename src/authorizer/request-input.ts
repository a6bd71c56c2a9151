import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'
import type { TrustProxy } from '../config.js'
import type { Module } from '../domain/scope.js'
import type { RawRequest } from '../raw-http/index.js'
import type { Refusal } from './canonical.js'
import type { AuthorizeInput } from './decide.js'
import { type Described, type ScannedHeaders, scanHeaders } from './origin.js'

/** The function behind fastify's `req.ip`, from fastify's own dependencies: the very same code. */
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))
type Trust = (address: string, hop: number) => boolean
const proxyAddr = fastifyRequire('@fastify/proxy-addr') as ((req: IncomingMessage, trust: Trust) => string | undefined) & {
  compile(values: readonly string[]): Trust
  all(req: IncomingMessage, trust: Trust): string[]
}

/**
 * TRUST_PROXY (whose X-Forwarded-For is believed) as one function, given to fastify as its
 * `trustProxy` and used by the fast path, so `req.ip` and the fast path's client address can never
 * differ. With none trusted, X-Forwarded-For is ignored and the socket's address is the client.
 */
const TRUST_NONE: Trust = () => false

export const trustFunction = (trust: TrustProxy): Trust => {
  if (trust === false) return TRUST_NONE
  if (trust === true) return () => true
  return proxyAddr.compile(trust)
}

/**
 * Who the client is: the one rule the allow-list, the last use (`last_used_from`) and the
 * failed-authentication limiter all read. The address the service can trust, or undefined:
 * - a request the service serves itself (gateway mode, the plugin, the audit log's token check):
 *   `req.ip`, that is the socket peer, or what a proxy TRUST_PROXY trusts reports in
 *   X-Forwarded-For (the nearest hop not trusted, or the farthest listed);
 * - a forward-auth question (`asked`): the peer is the proxy asking, never the client, so only
 *   what a trusted proxy reports; undefined when the peer is not trusted or reports nothing.
 * X-Real-IP is never read. Trusting no proxy, proxy-addr would parse X-Forwarded-For for nothing:
 * the answer is the socket's address (or, asked, none), read directly.
 */
export const clientOf = (req: RawRequest, trust: Trust, asked: boolean): string | undefined => {
  if (trust === TRUST_NONE) return asked ? undefined : req.socket.remoteAddress
  if (!asked) return proxyAddr(req as IncomingMessage, trust)
  const hops = proxyAddr.all(req as IncomingMessage, trust)
  return hops.length > 1 ? hops[hops.length - 1] : undefined
}

/**
 * The authorizer's input (method, path, `api_key`, `authorization`, `branch`, addresses) from a
 * request's scanned headers (origin.ts). The addresses are needed only by a token with an
 * allow-list, an allowed request (its last use) and a failed authentication, so they are
 * resolved on first use rather than for every request.
 */
abstract class HeaderInput implements AuthorizeInput {
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  readonly method: string | undefined
  readonly path: string
  readonly refusal: Refusal | undefined
  constructor(
    protected readonly req: RawRequest,
    headers: ScannedHeaders,
    described: Described | Refusal,
    readonly module: Module | undefined,
  ) {
    this.apiKey = headers.apiKey
    this.authorization = headers.authorization
    this.branch = headers.branch
    if ('refused' in described) {
      this.refusal = described
      this.method = undefined
      this.path = ''
    } else {
      this.refusal = undefined
      this.method = described.method
      this.path = described.uri
    }
  }
  abstract get clientAddress(): string | undefined
  get peerAddress(): string | undefined {
    return this.req.socket.remoteAddress
  }
}

/** A forward-auth question: the peer is the proxy asking about its client's request. */
class AskedInput extends HeaderInput {
  constructor(req: RawRequest, private readonly trust: Trust, headers: ScannedHeaders, described: Described | Refusal) {
    super(req, headers, described, undefined)
  }
  get clientAddress(): string | undefined {
    return clientOf(this.req, this.trust, true)
  }
}

/**
 * A request a fastify app serves itself (gateway mode, the plugin, the audit log's token check):
 * the client is `req.ip`, which is `clientOf(req, trust, false)` with the app's own TRUST_PROXY
 * (the plugin's app is not this service's).
 */
class ServedInput extends HeaderInput {
  constructor(private readonly served: FastifyRequest, headers: ScannedHeaders, described: Described | Refusal, module: Module | undefined) {
    super(served.raw, headers, described, module)
  }
  get clientAddress(): string | undefined {
    return this.served.ip
  }
}

/** A request a fastify app serves itself: its own method and URL, or the refusal of a repeated credential or method-override header. */
export const inputOf = (req: FastifyRequest, module?: Module): AuthorizeInput => {
  const headers = scanHeaders(req.raw.rawHeaders)
  return new ServedInput(req, headers, headers.problem ?? { method: req.method, uri: req.url }, module)
}

/** A request forward-auth was asked about, through fastify (forward-auth.ts) or the fast path (fast-path.ts). */
export const askedInputOf = (req: RawRequest, headers: ScannedHeaders, described: Described | Refusal, trust: Trust): AuthorizeInput =>
  new AskedInput(req, trust, headers, described)
