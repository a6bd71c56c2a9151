import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { HttpError } from '../http/errors.js'
import type { Authorizer, Decision } from './decide.js'
import { headerOf, inputOf } from './request-input.js'

export interface ForwardAuthOptions {
  readonly authorizer: Authorizer
  /** nginx `auth_request` cannot pass a 429 through: answer 403 (error_code 429, Retry-After). */
  readonly rateLimitAs403: boolean
}

/** Envoy ext_authz HTTP: set `http_service.path_prefix` to this; the original path follows it. */
export const ENVOY_PREFIX = '/v3/authorize/envoy'

const schema = { tags: ['authorizer'], summary: 'Forward-auth: decide on the original request (SPEC 6.4)' }

/**
 * SPEC 6.4 forward-auth. The original request is described by Traefik ForwardAuth
 * (`X-Forwarded-Method`, `X-Forwarded-Uri`), by nginx `auth_request` (`X-Original-Method`,
 * `X-Original-URI`, set with proxy_set_header), or, for Envoy, by the check request's own
 * method and path under ENVOY_PREFIX. 200 with `x-token-uid` and `x-stack-api-key`, or the
 * deny status with the SPEC 5.5 body. Bodies are never read.
 */
export const forwardAuth: FastifyPluginAsync<ForwardAuthOptions> = async (app, { authorizer, rateLimitAs403 }) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))

  const send = (reply: FastifyReply, d: Decision) => {
    if (d.allowed)
      return reply.code(200).headers(d.headers).header('x-token-uid', d.tokenUid).header('x-stack-api-key', d.apiKey).send()
    const e = rateLimitAs403 && d.error.statusCode === 429 ? new HttpError(403, 429, d.error.message, d.error.errors, d.error.headers) : d.error
    return reply.code(e.statusCode).headers(e.headers).send(e.body())
  }
  const decide = (req: FastifyRequest, reply: FastifyReply, method: string, path: string) => {
    const d = authorizer.authorize(inputOf(req, method, path))
    if (d instanceof Promise) return d.then((x) => send(reply, x))
    send(reply, d) // a sync handler that has sent returns nothing
    return undefined
  }

  // One child logger at `warn` for every request of these routes, instead of a new child per
  // request: per-request info logs are off here anyway (decision metrics count every request).
  let quiet: FastifyBaseLogger | undefined
  const childLoggerFactory: FastifyInstance['childLoggerFactory'] = function (logger, bindings) {
    quiet ??= logger.child({ ...bindings, reqId: undefined, surface: 'forward-auth' }, { level: 'warn' })
    return quiet
  }

  const original = (req: FastifyRequest, reply: FastifyReply) =>
    decide(
      req,
      reply,
      headerOf(req, 'x-forwarded-method') ?? headerOf(req, 'x-original-method') ?? req.method,
      headerOf(req, 'x-forwarded-uri') ?? headerOf(req, 'x-original-uri') ?? '',
    )
  app.route({ method: ['GET', 'POST'], url: '/v3/authorize', childLoggerFactory, schema, handler: original })
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: `${ENVOY_PREFIX}/*`,
    childLoggerFactory,
    schema: { ...schema, summary: 'Forward-auth for Envoy ext_authz: the original method and path' },
    handler: (req, reply) => decide(req, reply, req.method, req.url.slice(ENVOY_PREFIX.length)),
  })
}
