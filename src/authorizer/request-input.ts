import type { FastifyRequest } from 'fastify'
import type { AuthorizeInput } from './decide.js'

/** A header's value when sent once; a repeated or absent header is undefined. */
export const headerOf = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === 'string' ? v : undefined
}

/** SPEC 6.1 from a request: the request's own method and URL unless a surface says otherwise. */
export const inputOf = (req: FastifyRequest, method: string = req.method, path: string = req.url): AuthorizeInput => ({
  method,
  path,
  apiKey: headerOf(req, 'api_key'),
  authorization: headerOf(req, 'authorization'),
  branch: headerOf(req, 'branch'),
  clientAddress: req.ip,
})
