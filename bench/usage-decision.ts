/**
 * What recording usage costs a decision, in process (`npm run bench:usage-decision`, about a
 * minute): three authorizers on the same read models of BENCH_TOKENS tokens (default 4096), one
 * telling a UsageRecorder (emptied as a flush would, every 100,000 decisions), two without (an
 * A/A), each fed forward-auth inputs as the fast path builds them (`askedInputOf` over scanned
 * headers, no proxy trusted). Rounds of BENCH_DECISIONS decisions (default 50,000) are timed in
 * CPU time of the process (time spent descheduled on a shared machine does not count), in turn,
 * the order turned each round, for BENCH_ROUNDS rounds (default 60); the result is the median of
 * the per-round ratios, so a round slowed by other work is compared with its neighbours only.
 * It runs tsc's output (dist/, compiled first), as `npm start` does; BENCH_DIST=DIR runs another
 * build's (say, the commit before a change, compiled with `--outDir DIR`).
 * BENCH_ONLY=on|off runs one authorizer alone, for `node --cpu-prof`.
 * Prints one JSON line; writes nothing.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { compileService } from './compile.js'

const TOKENS = Number(process.env.BENCH_TOKENS ?? 4096)
const DECISIONS = Number(process.env.BENCH_DECISIONS ?? 50_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60)
const PER_STACK = 30
const URI = '/v3/content_types/blog/entries'
const GENEROUS = 1_000_000_000

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..')
if (!process.env.BENCH_DIST) compileService()
const dist = process.env.BENCH_DIST ?? join(root, 'dist')
const from = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dist, path)).href)) as T

const { projectionsFor } = await from<typeof import('../projections/index.js')>('projections/index.js')
const { createAuthorizer } = await from<typeof import('../src/authorizer/decide.js')>('src/authorizer/decide.js')
const { testConfig } = await from<typeof import('../src/config.js')>('src/config.js')
const { checksumOf, hashSecret, SECRET_PREFIX } = await from<typeof import('../src/domain/secret.js')>('src/domain/secret.js')
const { SqliteEventStore } = await from<typeof import('../src/eventstore/sqlite.js')>('src/eventstore/sqlite.js')
const { stackStream } = await from<typeof import('../src/eventstore/streams.js')>('src/eventstore/streams.js')
const { Projector } = await from<typeof import('../src/read/projector.js')>('src/read/projector.js')
const { UsageRecorder } = await from<typeof import('../src/usage/recorder.js')>('src/usage/recorder.js')
const { openReadModels } = await from<typeof import('../src/service.js')>('src/service.js')
const { askedInputOf, trustFunction } = await from<typeof import('../src/authorizer/request-input.js')>('src/authorizer/request-input.js')
const { describedByHeaders, scanHeaders } = await from<typeof import('../src/authorizer/origin.js')>('src/authorizer/origin.js')

const secretOf = (i: number) => {
  const digits = createHash('sha256').update(`bench-token-${i}`).digest('hex').slice(0, 32)
  return `${SECRET_PREFIX}${digits}${checksumOf(digits)}`
}
const apiKeyOf = (s: number) => `blt${s.toString(16).padStart(16, '0')}`
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const dir = mkdtempSync(join(tmpdir(), 'bench-usage-decision-'))
const store = new SqliteEventStore(join(dir, 'events.db'))
const meta = () => ({ actor: 'bench', occurred_at: new Date().toISOString(), request_id: randomUUID(), remote_addr: '127.0.0.1', schema_version: 1 })
let last = 0
for (let s = 0; s < Math.ceil(TOKENS / PER_STACK); s++) {
  const api_key = apiKeyOf(s)
  const events = [{ id: randomUUID(), type: 'StackCreated', data: { api_key, name: `Stack ${s}`, description: '', owner_email: `owner${s}@example.com`, owner_uid: `owner${s}` }, metadata: meta() }]
  for (let i = s * PER_STACK; i < Math.min(TOKENS, (s + 1) * PER_STACK); i++) {
    const scope = [{ module: 'content_type', acl: { read: true, write: true } }, { module: 'entry', acl: { read: true, write: i % 2 === 0 } }]
    const data = { api_key, token_uid: `blt${i.toString(16).padStart(16, '0')}`, name: `token ${i}`, description: '', scope, expires_on: null, rate_limit: null, is_email_notification_enabled: false, secret_hash: hashSecret(secretOf(i)) }
    events.push({ id: randomUUID(), type: 'TokenGenerated', data: data as never, metadata: meta() })
  }
  const r = store.appendSync(stackStream(api_key), events, 'no_stream')
  if (r._tag === 'Left') throw new Error('append failed')
  last = r.right.position
}
const dataDir = join(dir, 'data')
const projections = projectionsFor(store)
const readDb = openReadModels(dataDir, projections)
const projector = new Projector(readDb, store, projections)
projector.start()
await projector.waitFor(last)

const config = testConfig({ dataDir, planReadLimit: GENEROUS, planWriteLimit: GENEROUS, authFailureLimit: GENEROUS })
const recorder = new UsageRecorder({ maxEntries: 1_000_000 })
const deps = { config, readDb, projector, clock: () => new Date() }
const authorizers = { on: createAuthorizer({ ...deps, usage: recorder }), off: createAuthorizer(deps), off2: createAuthorizer(deps) }
const trust = trustFunction(false)
const socket = { remoteAddress: '127.0.0.1' }
const inputs = Array.from({ length: 4096 }, (_, k) => {
  const i = (k * 7919) % TOKENS
  const rawHeaders = ['host', 'auth', 'api_key', apiKeyOf(Math.floor(i / PER_STACK)), 'authorization', `Bearer ${secretOf(i)}`, 'x-forwarded-method', 'GET', 'x-forwarded-uri', URI]
  const headers = scanHeaders(rawHeaders)
  return { req: { method: 'GET', url: '/v3/authorize', rawHeaders, socket, headers: {} }, headers, described: describedByHeaders(headers, 'any') }
})

/** CPU ns per decision of one round. */
const round = (a: (typeof authorizers)['on']): number => {
  const c0 = process.cpuUsage()
  for (let i = 0; i < DECISIONS; i++) {
    const x = inputs[i & 4095] as (typeof inputs)[number]
    const d = a.authorize(askedInputOf(x.req, x.headers, x.described, trust))
    if (d instanceof Promise || !d.allowed) throw new Error('every decision is an allowed one')
    if (i % 100_000 === 99_999) recorder.take()
  }
  const c = process.cpuUsage(c0)
  return ((c.user + c.system) * 1000) / DECISIONS
}

const only = process.env.BENCH_ONLY as 'on' | 'off' | undefined
if (only) for (let r = 0; r < ROUNDS; r++) round(authorizers[only])
else {
  const names = ['on', 'off', 'off2'] as const
  for (let w = 0; w < 2; w++) for (const n of names) round(authorizers[n])
  const ns: Record<(typeof names)[number], number[]> = { on: [], off: [], off2: [] }
  for (let r = 0; r < ROUNDS; r++)
    for (let k = 0; k < 3; k++) {
      const n = names[(r + k) % 3] as (typeof names)[number]
      ns[n].push(round(authorizers[n]))
    }
  const ratios = (a: number[], b: number[]) => a.map((x, i) => x / (b[i] as number))
  process.stdout.write(
    `${JSON.stringify({
      load_average: loadavg().map((x) => Number(x.toFixed(2))),
      tokens: TOKENS,
      rounds: ROUNDS,
      decisions_per_round: DECISIONS,
      cpu_ns_per_decision: { on: Math.round(median(ns.on)), off: Math.round(median(ns.off)), off2: Math.round(median(ns.off2)) },
      on_vs_off_time: Number(median(ratios(ns.on, ns.off)).toFixed(3)),
      a_a_off2_vs_off_time: Number(median(ratios(ns.off2, ns.off)).toFixed(3)),
    })}\n`,
  )
}
await projector.stop()
readDb.close()
await store.close()
rmSync(dir, { recursive: true, force: true })
