import type { onResponseHookHandler } from 'fastify'
import { Histogram, type Registry } from 'prom-client'

const NAME = 'http_request_duration_seconds'

/**
 * Management-API requests by method, route pattern (`/v3/stacks/management_tokens/:uid`, never
 * the URL a client sent: no uid, query or secret becomes a label, and the series stay few) and
 * status class. Its `_count` is the request counter. The authorizer's surfaces are counted by
 * their decision metrics instead, so their hot path pays nothing here.
 */
export const requestMetrics = (registry: Registry): onResponseHookHandler => {
  const histogram =
    (registry.getSingleMetric(NAME) as Histogram<'method' | 'route' | 'status_class'> | undefined) ??
    new Histogram({
      name: NAME,
      help: 'Management-API requests by method, route pattern and status class (2xx, 3xx, 4xx, 5xx), with their duration',
      labelNames: ['method', 'route', 'status_class'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
  // Registered in the scope of the routes it counts: every request it sees matched one.
  return (req, reply, done) => {
    histogram.observe(
      { method: req.method, route: String(req.routeOptions.url), status_class: `${Math.floor(reply.statusCode / 100)}xx` },
      reply.elapsedTime / 1000,
    )
    done()
  }
}
