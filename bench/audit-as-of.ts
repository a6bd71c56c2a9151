/**
 * `node --import tsx bench/audit-as-of.ts [CHECKOUT]`: what `GET /v3/audit-logs/as-of` costs on a
 * stack of ~100,000 events, and what it does to other requests. CHECKOUT (default: this one) is
 * the project whose `serve` is measured, so an older checkout can be measured by the same script
 * on the same seeded history. The server runs in a child process (`serve` through tsx, as the
 * tests run it); this process only sends requests and reads the clock.
 *
 * Figures, each the median of ROUNDS rounds: one as-of alone; six sent at once (slowest answer);
 * and /healthz sent just after the six: its wait, and the longest wait of /healthz probes sent
 * one after another until the six are answered. Results: bench/results/audit-as-of.json.
 */
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import { mintAuthtoken } from '../src/http/auth.js'
import { defaultPolicy, freePort, median } from './support.js'

const here = dirname(fileURLToPath(import.meta.url))
const SECRET = 'bench-audit-as-of'
const CALLERS = 6
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
/** One stack: 30 tokens, ~3,300 changes each, about 99,000 events. */
const PLAN = { stacks: 1, tokensPerStack: 30, changes: 3300 }
const cache = join(here, '.cache', `audit-as-of-${PLAN.stacks}-${PLAN.tokensPerStack}-${PLAN.changes}`)

const seeded = async (): Promise<string> => {
  const file = join(cache, 'events.db')
  if (existsSync(file)) return file
  mkdirSync(cache, { recursive: true })
  writeFileSync(join(here, '.cache', '.gitignore'), '*\n')
  const { SqliteEventStore } = await import('../src/eventstore/sqlite.js')
  const { emptyCounts, seedHistory } = await import('../src/cli/seed-history.js')
  const store = new SqliteEventStore(file)
  const policy = await defaultPolicy()
  const counts = emptyCounts()
  let batch = []
  for (const a of seedHistory({ ...PLAN, seed: 7, start: new Date('2025-01-01T00:00:00.000Z'), policy }, counts)) {
    batch.push(a)
    if (batch.length >= 5000) {
      store.appendBatchSync(batch)
      batch = []
    }
  }
  store.appendBatchSync(batch)
  await store.close()
  return file
}

const ms = (from: number) => Math.round(performance.now() - from)

const measure = async (checkout: string) => {
  const events = await seeded()
  const db = new Database(events, { readonly: true })
  const first = db.prepare<[], { data: string }>('SELECT data FROM events ORDER BY position LIMIT 1').get() as { data: string }
  const count = db.prepare<[], number>('SELECT COUNT(*) FROM events').pluck().get() as number
  const latest = JSON.parse(db.prepare<[], string>('SELECT metadata FROM events ORDER BY position DESC LIMIT 1').pluck().get() as string) as { actor: string; actor_email: string; occurred_at: string }
  db.close()
  const apiKey = (JSON.parse(first.data) as { api_key: string }).api_key
  const last = latest.occurred_at
  // The author of the last change was an owner or admin then, and nothing changed since.
  const owner = latest
  const authtoken = mintAuthtoken(SECRET, { email: owner.actor_email, sub: owner.actor })

  const dataDir = mkdtempSync(join(tmpdir(), 'bench-as-of-'))
  copyFileSync(events, join(dataDir, 'events.db'))
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', checkout], {
    cwd: checkout,
    // Rate limits far above what the bench sends (a checkout without them ignores the variables).
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn', AUTH_JWT_SECRET: SECRET, AUDIT_RATE_LIMIT: '100000', MANAGEMENT_RATE_LIMIT: '100000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const base = `http://127.0.0.1:${port}`
  try {
    for (let i = 0; ; i += 1) {
      if ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) === 200) break
      if (i > 12_000) throw new Error('the server did not become ready')
      await new Promise((r) => setTimeout(r, 10))
    }
    const asOf = async () => {
      const started = performance.now()
      const res = await fetch(`${base}/v3/audit-logs/as-of?at=${encodeURIComponent(last)}`, { headers: { authtoken, api_key: apiKey } })
      const body = (await res.json()) as { tokens?: unknown[] }
      if (res.status !== 200) throw new Error(`as-of: ${res.status} ${JSON.stringify(body)}`)
      return { ms: ms(started), tokens: body.tokens?.length ?? 0 }
    }
    const health = async () => {
      const started = performance.now()
      const res = await fetch(`${base}/healthz`)
      await res.text()
      return ms(started)
    }
    await asOf() // warm-up: modules, statements, page cache
    const rounds: Array<{ alone: number; concurrentSlowest: number; healthzFirst: number; healthzMax: number; probes: number }> = []
    let tokens = 0
    for (let round = 0; round < ROUNDS; round += 1) {
      const alone = await asOf()
      tokens = alone.tokens
      await health()
      const six = Promise.all(Array.from({ length: CALLERS }, () => asOf()))
      let done = false
      void six.then(() => (done = true), () => (done = true))
      // Sent once the six requests are on their way (each fetch is dispatched on a later turn).
      await new Promise((r) => setTimeout(r, 20))
      const waits: number[] = []
      while (!done) waits.push(await health())
      const answers = await six
      rounds.push({
        alone: alone.ms,
        concurrentSlowest: Math.max(...answers.map((a) => a.ms)),
        healthzFirst: waits[0] ?? 0,
        healthzMax: Math.max(0, ...waits),
        probes: waits.length,
      })
    }
    return {
      checkout,
      events: count,
      tokens,
      rounds,
      median: {
        as_of_alone_ms: median(rounds.map((r) => r.alone)),
        as_of_6_concurrent_slowest_ms: median(rounds.map((r) => r.concurrentSlowest)),
        healthz_first_wait_ms: median(rounds.map((r) => r.healthzFirst)),
        healthz_longest_wait_ms: median(rounds.map((r) => r.healthzMax)),
        healthz_probes_answered_meanwhile: median(rounds.map((r) => r.probes)),
      },
    }
  } finally {
    child.kill('SIGTERM')
    await once(child, 'exit')
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const [mode, arg] = process.argv.slice(2)
if (mode === 'serve') {
  const { run } = (await import(pathToFileURL(join(arg as string, 'src', 'cli', 'main.ts')).href)) as { run: (argv: string[]) => Promise<number> }
  await run(['serve'])
} else {
  const checkout = resolve(mode ?? join(here, '..'))
  const result = await measure(checkout)
  const line = { node: process.version, cpus: availableParallelism(), load: Number(loadavg()[0]?.toFixed(2)), ...result }
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results', `audit-as-of${process.env.BENCH_LABEL ? `-${process.env.BENCH_LABEL}` : ''}.json`), `${JSON.stringify(line, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(line.median)}  (${result.events} events, ${result.tokens} tokens, ${ROUNDS} rounds, load ${line.load})\n`)
}
