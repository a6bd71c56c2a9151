/**
 * Redis outage benchmark (`npm run bench:redis-outage`, about a minute): what a Redis outage
 * adds to a decision. One authorizer (the service's Redis options, the default probe timers) on
 * a redis-server of its own, deciding reads of 200 tokens (20 stacks) with CONCURRENCY decisions
 * in flight, each timed from the call to its answer:
 *   - memory: an authorizer without Redis (the floor);
 *   - shared: Redis up (every decision waits for its round trip);
 *   - killed: after Redis was killed (SIGKILL) while a batch was in flight;
 *   - frozen: after Redis, restarted and shared again, was stopped (SIGSTOP) while a batch was in
 *     flight: the socket stays open and only the 100 ms command timeout ends a command.
 * For each outage, the batch in flight when it began is reported apart (`first failure`): those
 * decisions are the only ones that can wait on Redis. Added p99 is the phase's p99 minus the
 * shared phase's, and minus the memory phase's (the shared one moves with the machine's load). Writes bench/results/redis-outage.json and prints a table.
 * BENCH_DECISIONS (default 20,000 a phase) shrinks the run.
 */
import { once } from 'node:events'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { createAuthorizer, REDIS_OPTIONS } from '../src/authorizer/decide.js'
import type { Authorizer, AuthorizeInput } from '../src/authorizer/decision.js'
import { authorizerFixture, input } from '../test/support/authorizer-fixtures.js'
import { redisProcess } from '../test/support/redis.js'
import { freePort } from './support.js'

const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 20_000)
const CONCURRENCY = 32
const WARMUP = 2_000

const teardowns: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) }

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number

/** Latencies (ms) of `n` decisions, CONCURRENCY at a time. */
const run = async (a: Authorizer, inputs: readonly AuthorizeInput[], n: number, onBatch?: (i: number) => Promise<void> | void): Promise<number[]> => {
  const out: number[] = []
  for (let i = 0; i < n; i += CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONCURRENCY, n - i) }, (_, j) => {
      const started = performance.now()
      const d = a.authorize(inputs[(i + j) % inputs.length] as AuthorizeInput)
      const done = () => void out.push(performance.now() - started)
      return d instanceof Promise ? d.then(done) : done()
    })
    await onBatch?.(i)
    await Promise.all(batch)
  }
  return out
}

const summary = (ms: number[]) => {
  const s = [...ms].sort((x, y) => x - y)
  return { n: s.length, p50: percentile(s, 0.5), p99: percentile(s, 0.99), max: s[s.length - 1] as number }
}

const main = async () => {
  const server = await redisProcess(t, await freePort())
  const f = await authorizerFixture(t, { planReadLimit: 1_000_000_000, planWriteLimit: 1_000_000_000 })
  const inputs: AuthorizeInput[] = []
  for (let s = 0; s < 20; s++) {
    const apiKey = await f.createStack()
    for (let k = 0; k < 10; k++) inputs.push(input({ apiKey, authorization: (await f.generateToken(apiKey)).secret, path: '/v3/content_types/blog/entries' }))
  }
  const memory = createAuthorizer(f.deps)
  const redis = new Redis(server.url, REDIS_OPTIONS)
  redis.on('error', () => {})
  const shared = createAuthorizer(f.deps, { redis, keyPrefix: 'bench-outage:' })
  t.teardown(() => redis.disconnect())

  const phases: Record<string, ReturnType<typeof summary>> = {}
  await run(memory, inputs, WARMUP)
  phases.memory = summary(await run(memory, inputs, DECISIONS))
  await run(shared, inputs, WARMUP)
  phases.shared = summary(await run(shared, inputs, DECISIONS))

  // Killed while a batch is in flight; that batch is the first failure.
  const killFirst = await run(shared, inputs, CONCURRENCY, () => server.signal('SIGKILL'))
  if (shared.limits() !== 'local') throw new Error('still shared after the kill')
  phases['killed: first failure'] = summary(killFirst)
  phases.killed = summary(await run(shared, inputs, DECISIONS))

  await server.restart()
  if (redis.status !== 'ready') await once(redis, 'ready')
  while (shared.limits() !== 'shared') await new Promise((r) => setTimeout(r, 50))
  await run(shared, inputs, WARMUP)
  const frozenFirst = await run(shared, inputs, CONCURRENCY, () => server.signal('SIGSTOP'))
  if (shared.limits() !== 'local') throw new Error('still shared after the freeze')
  phases['frozen: first failure'] = summary(frozenFirst)
  phases.frozen = summary(await run(shared, inputs, DECISIONS))
  await server.signal('SIGCONT')

  const base = phases.shared.p99
  const floor = phases.memory.p99
  const outage = (phase: string) => phase !== 'memory' && phase !== 'shared'
  const rows = Object.entries(phases).map(([phase, s]) => ({
    phase,
    ...s,
    addedP99: outage(phase) ? s.p99 - base : undefined,
    addedP99VsMemory: outage(phase) ? s.p99 - floor : undefined,
  }))
  const machine = { nproc: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: loadavg().map((x) => Math.round(x * 10) / 10) }
  const ms = (x: number | undefined) => (x === undefined ? '' : x.toFixed(3))
  console.log(`Redis outage: ${machine.nproc} x ${machine.cpu}, node ${machine.node}, load ${machine.loadavg.join(' ')}, ${CONCURRENCY} in flight`)
  console.log(`| phase | decisions | p50 ms | p99 ms | max ms | p99 added vs shared, ms | p99 added vs memory, ms |\n|---|---:|---:|---:|---:|---:|---:|`)
  for (const r of rows) console.log(`| ${r.phase} | ${r.n} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.addedP99)} | ${ms(r.addedP99VsMemory)} |`)
  mkdirSync('bench/results', { recursive: true })
  writeFileSync('bench/results/redis-outage.json', `${JSON.stringify({ machine, concurrency: CONCURRENCY, decisionsPerPhase: DECISIONS, phases: rows }, null, 2)}\n`)

  await shared.close()
  await memory.close()
  for (const fn of teardowns.reverse()) await fn()
}

await main()
