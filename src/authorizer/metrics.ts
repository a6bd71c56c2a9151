import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { EventStore } from '../eventstore/port.js'
import type { Projector } from '../read/projector.js'

export const OUTCOMES = [
  'allow',
  'no_stack',
  'unauthorized',
  'expired',
  'forbidden',
  'branch',
  'rate_limited',
  'auth_throttled',
] as const
export type Outcome = (typeof OUTCOMES)[number]

export interface AuthorizerMetrics {
  record(outcome: Outcome, seconds: number): void
}

/** Reuses a metric already on the registry: a second authorizer on one registry shares the series. */
const once = <M>(registry: Registry, name: string, make: () => M): M =>
  (registry.getSingleMetric(name) as M | undefined) ?? make()

/** How far behind the store this instance's read models are; counted only when scraped. */
const LAG_SCAN_CAP = 10_000

export const authorizerMetrics = (registry: Registry, projector?: Projector, store?: EventStore): AuthorizerMetrics => {
  const decisions = once(registry, 'authorizer_decisions_total', () =>
    new Counter({
      name: 'authorizer_decisions_total',
      help: 'Authorizer decisions by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  )
  const latency = once(registry, 'authorizer_decision_seconds', () =>
    new Histogram({
      name: 'authorizer_decision_seconds',
      help: 'Time to decide one request, rate-limit counters included',
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1],
      registers: [registry],
    }),
  )
  // Pre-bound children: the hot path does no label lookup.
  const byOutcome = Object.fromEntries(OUTCOMES.map((o) => [o, decisions.labels(o)])) as Record<Outcome, { inc(): void }>

  if (projector && store) {
    once(registry, 'projection_lag_events', () =>
      new Gauge({
        name: 'projection_lag_events',
        help: `Events in the store not yet in this instance's read models (counted up to ${LAG_SCAN_CAP})`,
        registers: [registry],
        async collect() {
          let n = 0
          for await (const _ of store.readAll({ after: projector.position, maxCount: LAG_SCAN_CAP })) n++
          this.set(n)
        },
      }),
    )
    once(registry, 'projection_lag_seconds', () =>
      new Gauge({
        name: 'projection_lag_seconds',
        help: 'Age of the oldest event not yet in the read models (0 when caught up)',
        registers: [registry],
        async collect() {
          let lag = 0
          for await (const e of store.readAll({ after: projector.position, maxCount: 1 }))
            lag = Math.max(0, (Date.now() - Date.parse(e.recorded_at)) / 1000)
          this.set(lag)
        },
      }),
    )
    once(registry, 'projection_position', () =>
      new Gauge({
        name: 'projection_position',
        help: 'Store position every read model of this instance includes',
        registers: [registry],
        collect() {
          this.set(projector.position)
        },
      }),
    )
  }

  return {
    record(outcome, seconds) {
      byOutcome[outcome].inc()
      latency.observe(seconds)
    },
  }
}
