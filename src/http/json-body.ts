import type { onRequestHookHandler } from 'fastify'

/**
 * For routes whose body is optional (DELETE, rotate): `content-type: application/json` with an
 * empty body is no body at all, as many HTTP clients send that header on every request. fastify
 * would otherwise refuse it as empty JSON (400); without the content type it reads no body.
 */
export const emptyBodyIsNoBody: onRequestHookHandler = (req, _reply, done) => {
  const length = req.headers['content-length']
  if (req.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) delete req.headers['content-type']
  done()
}
