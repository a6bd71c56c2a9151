import type { FastifyPluginAsync } from 'fastify'
import type { Api } from '../context.js'

/**
 * Health: live, and ready once the read models have caught up with the store. Probed every few
 * seconds: access lines at debug. Where rate limits are counted (`limits`) is reported, not
 * judged: an instance counting in its own memory while Redis is away still decides every request.
 */
export const healthRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { readiness, authorizer } = api.deps
  app.get('/healthz', { config: { accessLog: 'debug' }, schema: { tags: ['operations'], summary: 'Liveness' } }, async () => ({ status: 'ok' }))
  app.get('/readyz', { config: { accessLog: 'debug' }, schema: { tags: ['operations'], summary: 'Readiness: read models caught up' } }, async (_req, reply) => {
    const body = { ready: readiness.ready, position: readiness.position, limits: authorizer.limits() }
    return reply.code(body.ready ? 200 : 503).send(body)
  })
}
