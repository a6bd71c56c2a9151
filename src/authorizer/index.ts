import type { FastifyPluginAsync } from 'fastify'
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import type { Api } from '../http/context.js'
import type { Authorizer } from './decide.js'
import { denialAnswer } from './denial.js'
import type { FastPathHost } from './fast-path.js'
import { forwardAuth } from './forward-auth.js'
import { gateway } from './gateway.js'
import { inputOf, trustFunction } from './request-input.js'

export { createAuthorizer } from './decide.js'
export type { Authorizer, AuthorizeInput, Decision } from './decide.js'

export interface AuthorizerSurfaceOptions {
  /** The instance's one authorizer, built and closed by the composition root: every surface shares its limiter. */
  readonly authorizer: Authorizer
  readonly config: Pick<Config, 'forwardAuth429As403' | 'forwardAuthProxy' | 'trustProxy' | 'upstreamUrl'>
  /** Served at `/metrics` unless the app has that route already. */
  readonly metrics: Registry
  /** The management routes' Api: given `authorizeToken` here. */
  readonly api?: Api | undefined
  /** buildApp's server: forward-auth's common requests then skip fastify. */
  readonly fastPath?: FastPathHost | undefined
}

/**
 * The authorizer's HTTP surfaces on the service: forward-auth, gateway mode (with UPSTREAM_URL),
 * `/metrics`, and `api.authorizeToken` for management routes that admit a management token
 * (the audit log).
 */
export const authorizerSurface: FastifyPluginAsync<AuthorizerSurfaceOptions> = async (app, { authorizer, config, metrics, api, fastPath }) => {
  if (api)
    api.authorizeToken = async (req) => {
      const d = await authorizer.authorize(inputOf(req))
      if (!d.allowed) throw denialAnswer(d).httpError()
    }
  await app.register(forwardAuth, {
    authorizer,
    rateLimitAs403: config.forwardAuth429As403,
    proxy: config.forwardAuthProxy,
    trust: trustFunction(config.trustProxy),
    fastPath,
  })
  if (config.upstreamUrl) await app.register(gateway, { authorizer, upstream: config.upstreamUrl })
  if (!app.hasRoute({ method: 'GET', url: '/metrics' }))
    app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics' } }, async (_req, reply) =>
      reply.type(metrics.contentType).send(await metrics.metrics()),
    )
}
