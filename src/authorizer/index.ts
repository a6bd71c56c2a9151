import type { FastifyPluginAsync } from 'fastify'
import type { Api } from '../http/context.js'
import type { ServiceDeps } from '../service.js'
import { createAuthorizer } from './decide.js'
import { denialAnswer } from './denial.js'
import type { FastPathHost } from './fast-path.js'
import { forwardAuth } from './forward-auth.js'
import { gateway } from './gateway.js'
import { inputOf, trustFunction } from './request-input.js'

export { createAuthorizer } from './decide.js'
export type { Authorizer, AuthorizeInput, Decision } from './decide.js'

/**
 * The authorizer's HTTP surfaces on the service: forward-auth, gateway mode (with UPSTREAM_URL),
 * `/metrics`, and `api.authorizeToken` for management routes that admit a management token
 * (the audit log). The failed-authentication limiter lives in the authorizer, so every surface
 * shares it. With `fastPath` (buildApp's server), forward-auth's common requests skip fastify.
 */
export const authorizerSurface: FastifyPluginAsync<{ deps: ServiceDeps; api?: Api; fastPath?: FastPathHost }> = async (app, { deps, api, fastPath }) => {
  const authorizer = createAuthorizer(deps, {
    onLimiterError: (e) => app.log.warn({ err: e }, 'rate-limit counters unavailable; request not rate-limited'),
  })
  app.addHook('onClose', () => authorizer.close())
  if (api)
    api.authorizeToken = async (req) => {
      const d = await authorizer.authorize(inputOf(req))
      if (!d.allowed) throw denialAnswer(d).httpError()
    }
  await app.register(forwardAuth, {
    authorizer,
    rateLimitAs403: deps.config.forwardAuth429As403,
    proxy: deps.config.forwardAuthProxy,
    trust: trustFunction(deps.config.trustProxy),
    fastPath,
  })
  if (deps.config.upstreamUrl) await app.register(gateway, { authorizer, upstream: deps.config.upstreamUrl })
  if (!app.hasRoute({ method: 'GET', url: '/metrics' }))
    app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_req, reply) =>
      reply.type(deps.metrics.contentType).send(await deps.metrics.metrics()),
    )
}
