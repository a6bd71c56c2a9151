import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'
import type { TrustProxy } from '../config.js'
import type { Module } from '../domain/scope.js'
import type { Refusal } from './canonical.js'
import type { AuthorizeInput } from './decide.js'
import { type Described, headerOf, headerProblem } from './origin.js'


/** The function behind fastify's `req.ip`, from fastify's own dependencies: the very same code. */
const fastifyRequire = createRequire(createRequire(import.meta.url).resolve('fastify'))
type Trust = (address: string, hop: number) => boolean
const proxyAddr = fastifyRequire('@fastify/proxy-addr') as ((req: IncomingMessage, trust: Trust) => string | undefined) & {
  compile(values: readonly string[]): Trust
}

/**
 * TRUST_PROXY as one function (SPEC 6.7), given to fastify as its `trustProxy` and used by the
 * fast path, so `req.ip` and the fast path's client address can never differ. With none
 * trusted, X-Forwarded-For is ignored and the socket's address is the client.
 */
export const trustFunction = (trust: TrustProxy): Trust => {
  if (trust === false) return () => false
  if (trust === true) return () => true
  return proxyAddr.compile(trust)
}

/**
 * SPEC 6.1 from a request. The client address is only needed when authentication fails (the
 * failed-authentication limiter), so it is resolved on first use rather than for every request.
 */
abstract class HeaderInput implements AuthorizeInput {
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  readonly method: string | undefined
  readonly path: string
  readonly refusal: Refusal | undefined
  constructor(
    req: { readonly headers: IncomingHttpHeaders },
    described: Described | Refusal,
    readonly module: Module | undefined,
  ) {
    this.apiKey = headerOf(req, 'api_key')
    this.authorization = headerOf(req, 'authorization')
    this.branch = headerOf(req, 'branch')
    if ('refused' in described) {
      this.refusal = described
      this.method = undefined
      this.path = ''
    } else {
      this.method = described.method
      this.path = described.uri
    }
  }
  abstract get clientAddress(): string | undefined
}

class RequestInput extends HeaderInput {
  constructor(private readonly req: FastifyRequest, described: Described | Refusal, module: Module | undefined) {
    super(req, described, module)
  }
  get clientAddress(): string | undefined {
    return this.req.ip
  }
}

/**
 * A request a fastify app serves itself (gateway mode, the plugin, the audit log): its own
 * method and URL, or the refusal of a repeated credential or method-override header.
 */
export const inputOf = (req: FastifyRequest, module?: Module): AuthorizeInput =>
  new RequestInput(req, headerProblem(req.raw) ?? { method: req.method, uri: req.url }, module)

/** A request forward-auth was asked about through fastify (forward-auth.ts). */
export const describedInputOf = (req: FastifyRequest, described: Described | Refusal): AuthorizeInput =>
  new RequestInput(req, described, undefined)

/** What `req.ip` is, for a request fastify has not seen, with the same trust function. */
export const clientAddressOf = (req: IncomingMessage, trust: Trust): string | undefined => proxyAddr(req, trust)

class RawInput extends HeaderInput {
  constructor(private readonly req: IncomingMessage, described: Described | Refusal, private readonly trust: Trust) {
    super(req, described, undefined)
  }
  get clientAddress(): string | undefined {
    return clientAddressOf(this.req, this.trust)
  }
}

/** SPEC 6.1 from a plain Node request (the forward-auth fast path). */
export const rawInputOf = (req: IncomingMessage, described: Described | Refusal, trust: Trust): AuthorizeInput =>
  new RawInput(req, described, trust)
