import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Authorizer, Decision } from './decide.js'
import { type FastPathHost, forwardAuthFastPath } from './fast-path.js'
import { answerOf, ENVOY_PREFIX } from './forward-auth-answer.js'
import { describedByEnvoy, describedByHeaders, type Described, type ForwardAuthProxy, type ScannedHeaders, scanHeaders } from './origin.js'
import { DECIDED_METHODS, type Refusal } from './canonical.js'
import { askedInputOf } from './request-input.js'

export { ENVOY_PREFIX } from './forward-auth-answer.js'

export interface ForwardAuthOptions {
  readonly authorizer: Authorizer
  /** nginx `auth_request` passes only 401 and 403: other denials are answered 403 (forward-auth-answer.ts). */
  readonly rateLimitAs403: boolean
  /** FORWARD_AUTH_PROXY: whose headers describe the original request (origin.ts). */
  readonly proxy: ForwardAuthProxy
  /** TRUST_PROXY as a function (request-input.ts): whose report of the client address is believed. */
  readonly trust: (address: string, hop: number) => boolean
  /** buildApp's server: the common requests are then answered before fastify (fast-path.ts). */
  readonly fastPath?: FastPathHost | undefined
}

const schema = { tags: ['authorizer'], summary: 'Forward-auth (Traefik ForwardAuth, nginx auth_request, Envoy ext_authz): decide on the original request' }

/**
 * The forward-auth endpoint. The original request is described by Traefik ForwardAuth
 * (`X-Forwarded-Method`, `X-Forwarded-Uri`), by nginx `auth_request` (`X-Original-Method`,
 * `X-Original-URI`, set with proxy_set_header), or, for Envoy, by the check request's own
 * method and path under ENVOY_PREFIX; origin.ts says which of them count (a pinned proxy's own
 * set, or every set present agreeing). 200 with `x-token-uid` and `x-stack-api-key`, or the deny
 * status with the JSON error body (`error_message`, `error_code`, `errors`). Bodies are never read.
 */
export const forwardAuth: FastifyPluginAsync<ForwardAuthOptions> = async (app, { authorizer, rateLimitAs403, proxy, trust, fastPath }) => {
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))

  const send = (reply: FastifyReply, d: Decision) => {
    const a = answerOf(d, rateLimitAs403)
    reply.code(a.status)
    for (let i = 0; i < a.headers.length; i += 2) reply.header(a.headers[i] as string, a.headers[i + 1])
    return reply.send(a.body)
  }
  const decide = (req: FastifyRequest, reply: FastifyReply, headers: ScannedHeaders, described: Described | Refusal) => {
    const d = authorizer.authorize(askedInputOf(req.raw, headers, described, trust))
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

  const original = (req: FastifyRequest, reply: FastifyReply) => {
    const headers = scanHeaders(req.raw.rawHeaders)
    return decide(req, reply, headers, describedByHeaders(headers, proxy))
  }
  app.route({ method: ['GET', 'POST'], url: '/v3/authorize', childLoggerFactory, schema, handler: original })
  app.route({
    method: [...DECIDED_METHODS],
    url: `${ENVOY_PREFIX}/*`,
    childLoggerFactory,
    schema: { ...schema, summary: 'Forward-auth for Envoy ext_authz: the original method and path' },
    handler: (req, reply) => {
      const headers = scanHeaders(req.raw.rawHeaders)
      return decide(req, reply, headers, describedByEnvoy(headers, proxy, req.method, req.url.slice(ENVOY_PREFIX.length)))
    },
  })

  if (fastPath) {
    const log = app.log.child({ surface: 'forward-auth' })
    fastPath.install(forwardAuthFastPath({ authorizer, rateLimitAs403, proxy, trust, host: fastPath, log }))
    // Closing: fastify answers 503 and closes kept-alive connections, so it takes every request.
    app.addHook('preClose', (done) => {
      fastPath.install(undefined)
      done()
    })
  }
}
