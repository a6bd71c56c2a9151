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
 * The original client a trusted proxy reports in X-Forwarded-For (the nearest address not
 * trusted, or the farthest listed), or undefined when the peer is not trusted or reports none:
 * forward-auth's peer is the proxy asking, never the client.
 */
const reportedClient = (req: IncomingMessage, trust: Trust): string | undefined => {
  const hops = proxyAddr.all(req, trust)
  return hops.length > 1 ? hops[hops.length - 1] : undefined
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
 * The authorizer's input (method, path, `api_key`, `authorization`, `branch`, client address)
 * from a request's scanned headers (origin.ts). The client address is only needed when
 * authentication fails (the failed-authentication limiter), so it is resolved on first use
 * rather than for every request.
 */
abstract class HeaderInput implements AuthorizeInput {
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  readonly method: string | undefined
  readonly path: string
  readonly refusal: Refusal | undefined
  constructor(
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
  abstract get trustedClient(): string | undefined
}

/** A request to the gateway, the plugin or the management API: the peer is the client, or a proxy in front of it. */
class RequestInput extends HeaderInput {
  constructor(private readonly req: FastifyRequest, headers: ScannedHeaders, described: Described | Refusal, module: Module | undefined) {
    super(headers, described, module)
  }
  get clientAddress(): string | undefined {
    return this.req.ip
  }
  get trustedClient(): string | undefined {
    return this.req.ip
  }
}

/** A forward-auth request through fastify: the peer is the proxy asking about its client's request. */
class AskedInput extends RequestInput {
  constructor(private readonly raw: IncomingMessage, headers: ScannedHeaders, described: Described | Refusal, req: FastifyRequest, private readonly trust: Trust) {
    super(req, headers, described, undefined)
  }
  override get trustedClient(): string | undefined {
    return reportedClient(this.raw, this.trust)
  }
}

/**
 * A request a fastify app serves itself (gateway mode, the plugin, the audit log): its own
 * method and URL, or the refusal of a repeated credential or method-override header.
 */
export const inputOf = (req: FastifyRequest, module?: Module): AuthorizeInput => {
  const headers = scanHeaders(req.raw.rawHeaders)
  return new RequestInput(req, headers, headers.problem ?? { method: req.method, uri: req.url }, module)
}

/** A request forward-auth was asked about through fastify (forward-auth.ts). */
export const describedInputOf = (req: FastifyRequest, headers: ScannedHeaders, described: Described | Refusal, trust: Trust): AuthorizeInput =>
  new AskedInput(req.raw, headers, described, req, trust)

/**
 * What `req.ip` is, for a request fastify has not seen, with the same trust function. Trusting
 * no proxy, that is the socket's address, as proxy-addr would find it after parsing
 * X-Forwarded-For for nothing: the last use of every allowed request reads it.
 */
export const clientAddressOf = (req: RawRequest, trust: Trust): string | undefined =>
  trust === TRUST_NONE ? req.socket.remoteAddress : proxyAddr(req as IncomingMessage, trust)

class RawInput extends HeaderInput {
  constructor(private readonly req: RawRequest, headers: ScannedHeaders, described: Described | Refusal, private readonly trust: Trust) {
    super(headers, described, undefined)
  }
  get clientAddress(): string | undefined {
    return clientAddressOf(this.req, this.trust)
  }
  get trustedClient(): string | undefined {
    return reportedClient(this.req as IncomingMessage, this.trust)
  }
}

/** The authorizer's input from a plain Node request (the forward-auth fast path). */
export const rawInputOf = (req: RawRequest, headers: ScannedHeaders, described: Described | Refusal, trust: Trust): AuthorizeInput =>
  new RawInput(req, headers, described, trust)
