/**
 * How long a revocation waits for the other instance: two `serve` processes sharing one embedded
 * event store (A's events.db), finding each other through instances.db beside it, then through
 * Redis. Each trial generates a token on A, waits until B allows it, revokes it on A and keeps the
 * answer's `propagation.ms`. Results: a table, and bench/results/propagation.json.
 *
 *   npm run bench:propagation [-- --trials 200]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { authorize, call, createStack, generate, startPair } from '../test/support/instance-pair.js'
import { waitFor } from '../test/support/wait-for.js'

const arg = process.argv.indexOf('--trials')
const TRIALS = arg > 0 ? Number(process.argv[arg + 1]) : 200
const here = fileURLToPath(new URL('.', import.meta.url))

const quantile = (xs: readonly number[], q: number): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

const measure = async (via: 'instances.db' | 'redis') => {
  const teardowns: Array<() => unknown> = []
  try {
    const pair = await startPair({ teardown: (fn) => teardowns.push(fn) }, { redis: via === 'redis' })
    const apiKey = await createStack(pair.a.base)
    const ms: number[] = []
    const answered: number[] = []
    let unconfirmed = 0
    for (let i = 0; i < TRIALS; i += 1) {
      const tok = await generate(pair.a.base, apiKey, `bench-${i}`)
      await waitFor(async () => (await authorize(pair.b.base, apiKey, tok.secret)) === 200, { intervalMs: 5, timeoutMs: 10_000 })
      const started = performance.now()
      const { propagation } = await call(pair.a.base, 'DELETE', `/v3/stacks/management_tokens/${tok.uid}`, apiKey)
      answered.push(performance.now() - started)
      ms.push(propagation.ms as number)
      if (propagation.confirmed !== propagation.instances || propagation.instances !== 2) unconfirmed += 1
    }
    const round = (x: number) => Math.round(x * 10) / 10
    return {
      via,
      trials: TRIALS,
      unconfirmed,
      propagation_ms: { median: round(quantile(ms, 0.5)), p99: round(quantile(ms, 0.99)), max: round(Math.max(...ms)) },
      revoke_answer_ms: { median: round(quantile(answered, 0.5)), p99: round(quantile(answered, 0.99)) },
    }
  } finally {
    for (const fn of teardowns.reverse()) await fn()
  }
}

const rows = [await measure('instances.db'), await measure('redis')]
console.table(
  rows.map((r) => ({
    registry: r.via,
    trials: r.trials,
    unconfirmed: r.unconfirmed,
    'propagation.ms median': r.propagation_ms.median,
    'propagation.ms p99': r.propagation_ms.p99,
    'propagation.ms max': r.propagation_ms.max,
    'revoke answered, median ms': r.revoke_answer_ms.median,
    'revoke answered, p99 ms': r.revoke_answer_ms.p99,
  })),
)
mkdirSync(join(here, 'results'), { recursive: true })
const out = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  // Other work on the machine moves these figures a lot: the load when the run ended.
  loadavg: loadavg().map((l) => Math.round(l * 100) / 100),
  note: 'two serve processes on one machine sharing events.db; the embedded store is polled by each subscription every 50 ms, which bounds how soon B applies an event',
  results: rows,
}
writeFileSync(join(here, 'results', 'propagation.json'), `${JSON.stringify(out, null, 2)}\n`)
