import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import type { FastifyRequest } from 'fastify'
import type { Module } from '../domain/scope.js'
import type { AuthorizeInput } from './decide.js'

/** A header's value when sent once; a repeated or absent header is undefined. */
export const headerOf = (req: { readonly headers: IncomingHttpHeaders }, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

/**
 * SPEC 6.1 from a request. The client address is only needed when authentication fails (the
 * failed-authentication limiter), and with `trustProxy` every `req.ip` parses X-Forwarded-For:
 * it is read on first use rather than for every request.
 */
abstract class HeaderInput implements AuthorizeInput {
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  constructor(
    req: { readonly headers: IncomingHttpHeaders },
    readonly method: string,
    readonly path: string,
    readonly module: Module | undefined,
  ) {
    this.apiKey = headerOf(req, 'api_key')
    this.authorization = headerOf(req, 'authorization')
    this.branch = headerOf(req, 'branch')
  }
  abstract get clientAddress(): string | undefined
}

class RequestInput extends HeaderInput {
  constructor(private readonly req: FastifyRequest, method: string, path: string, module: Module | undefined) {
    super(req, method, path, module)
  }
  get clientAddress(): string | undefined {
    return this.req.ip
  }
}

/** The request's own method and URL unless a surface says otherwise; `module` as in AuthorizeInput. */
export const inputOf = (req: FastifyRequest, method: string = req.method, path: string = req.url, module?: Module): AuthorizeInput =>
  new RequestInput(req, method, path, module)

/**
 * The function behind fastify's `req.ip`, resolved from fastify's own dependencies so that it
 * is the very same code; buildApp sets `trustProxy: true`, which trusts every hop.
 */
const proxyAddr = createRequire(createRequire(import.meta.url).resolve('fastify'))('@fastify/proxy-addr') as (
  req: IncomingMessage,
  trust: () => boolean,
) => string | undefined
const trustAll = () => true

/** What `req.ip` is for a request fastify has not seen (buildApp's `trustProxy: true`). */
export const clientAddressOf = (req: IncomingMessage): string | undefined => proxyAddr(req, trustAll)

class RawInput extends HeaderInput {
  constructor(private readonly req: IncomingMessage, method: string, path: string) {
    super(req, method, path, undefined)
  }
  get clientAddress(): string | undefined {
    return clientAddressOf(this.req)
  }
}

/** SPEC 6.1 from a plain Node request (the forward-auth fast path). */
export const rawInputOf = (req: IncomingMessage, method: string, path: string): AuthorizeInput => new RawInput(req, method, path)
