import type { FastifyRequest } from 'fastify'
import type { Module } from '../domain/scope.js'
import type { AuthorizeInput } from './decide.js'

/** A header's value when sent once; a repeated or absent header is undefined. */
export const headerOf = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

/**
 * SPEC 6.1 from a request. The client address is only needed when authentication fails (the
 * failed-authentication limiter), and with `trustProxy` every `req.ip` parses X-Forwarded-For:
 * it is read on first use rather than for every request.
 */
class RequestInput implements AuthorizeInput {
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  constructor(
    private readonly req: FastifyRequest,
    readonly method: string,
    readonly path: string,
    readonly module: Module | undefined,
  ) {
    this.apiKey = headerOf(req, 'api_key')
    this.authorization = headerOf(req, 'authorization')
    this.branch = headerOf(req, 'branch')
  }
  get clientAddress(): string | undefined {
    return this.req.ip
  }
}

/** The request's own method and URL unless a surface says otherwise; `module` as in AuthorizeInput. */
export const inputOf = (req: FastifyRequest, method: string = req.method, path: string = req.url, module?: Module): AuthorizeInput =>
  new RequestInput(req, method, path, module)
