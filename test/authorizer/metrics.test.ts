import { Counter, Histogram, Registry } from 'prom-client'
import t from 'tap'
import { authorizerMetrics, OUTCOMES, type Outcome } from '../../src/authorizer/metrics.js'

const BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.025, 0.1]
const SAMPLES: Array<[Outcome, number]> = [
  ['allow', 0.000003],
  ['allow', 0.00001],
  ['allow', 0.0000100001],
  ['unauthorized', 0.00004],
  ['forbidden', 0.0007],
  ['allow', 0.02],
  ['rate_limited', 0.1],
  ['allow', 0.5],
  ['no_stack', 0],
]

/** What prom-client's own Counter and Histogram expose for the same decisions. */
const reference = async (samples: Array<[Outcome, number]>) => {
  const registry = new Registry()
  const decisions = new Counter({ name: 'authorizer_decisions_total', help: 'Authorizer decisions by outcome', labelNames: ['outcome'], registers: [registry] })
  const latency = new Histogram({ name: 'authorizer_decision_seconds', help: 'Time to decide one request, rate-limit counters included', buckets: BUCKETS, registers: [registry] })
  for (const [outcome, seconds] of samples) {
    decisions.labels(outcome).inc()
    latency.observe(seconds)
  }
  return registry
}

/** Same lines, in any order (the registry lists metrics in registration order). */
const lines = (text: string) => text.split('\n').filter(Boolean).sort()

t.test('the exposition is the one prom-client gives for a Counter and a Histogram', async (t) => {
  const registry = new Registry()
  const metrics = authorizerMetrics(registry)
  for (const [outcome, seconds] of SAMPLES) metrics.record(outcome, seconds)
  const expected = await reference(SAMPLES)
  t.same(lines(await registry.metrics()), lines(await expected.metrics()), 'text format')
  // Series in any order: prom-client lists a counter's in the order they were first counted.
  const json = async (r: Registry) =>
    JSON.parse(
      JSON.stringify(
        (await r.getMetricsAsJSON())
          .sort((a, b) => a.name.localeCompare(b.name))
          .map((m) => ({ ...m, values: m.name === 'authorizer_decisions_total' ? [...m.values].sort((a, b) => String(a.labels.outcome).localeCompare(String(b.labels.outcome))) : m.values })),
      ),
    ) as unknown
  t.same(await json(registry), await json(expected), 'JSON')

  metrics.record('allow', 0.00002)
  const again = await reference([...SAMPLES, ['allow', 0.00002]])
  t.same(lines(await registry.metrics()), lines(await again.metrics()), 'a later scrape adds only what came since')
})

t.test('two authorizers on one registry share the series; a reset starts them again', async (t) => {
  const registry = new Registry()
  const one = authorizerMetrics(registry)
  const two = authorizerMetrics(registry)
  one.record('allow', 0.00001)
  two.record('expired', 0.00002)
  const text = await registry.metrics()
  t.match(text, /authorizer_decisions_total\{outcome="allow"\} 1\n/)
  t.match(text, /authorizer_decisions_total\{outcome="expired"\} 1\n/)
  t.match(text, /authorizer_decision_seconds_count 2\n/)
  registry.resetMetrics()
  two.record('forbidden', 0.00003)
  const after = await registry.metrics()
  t.notMatch(after, /outcome="allow"/)
  t.match(after, /authorizer_decisions_total\{outcome="forbidden"\} 1\n/)
  t.match(after, /authorizer_decision_seconds_count 1\n/)
  t.match(after, /authorizer_decision_seconds_sum 0.00003\n/)
  t.equal(OUTCOMES.length, 8)
})
