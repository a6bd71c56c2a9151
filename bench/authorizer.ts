/**
 * Authorizer benchmark (`npm run bench:authorizer`), one run, a few minutes at most:
 *
 * 1. Loads 100k tokens (3,334 stacks of 30) by appending their events in bulk to a fresh SQLite
 *    event store and letting the real projector build the read models.
 * 2. In-process: the decision function (createAuthorizer().authorize) on random tokens among the
 *    100k, each call timed with hrtime: p50 / p99 in microseconds.
 * 3. Memory: a child process (with --expose-gc) authorizes every token once and reports how much
 *    its resident set grew, per token.
 * 4. HTTP on loopback: four servers, each in its own child process (its own event loop), pinned
 *    with `taskset` to the last core while `wrk` (a native load generator, Debian's package; one
 *    thread, a Lua script cycling through the request headers) runs pinned to the first,
 *    so client and server never share a core; the servers are driven in turn for ROUNDS rounds
 *    and the median requests/s of each is compared (plus the server's CPU time per request,
 *    read from /proc, which does not depend on how fast the client is, split into user space and
 *    kernel, the client's own, the share of its core each side kept busy, and the spread of the
 *    round-by-round ratios, which shows how much the machine moved during the run). Every run
 *    gets a fresh server process, warmed up for WARMUP_S, so that one process's luck with V8's
 *    compiled code does not repeat in every round:
 *      - forward-auth: the real service (`buildApp` on the 100k-token read models, default log
 *        level), GET /v3/authorize for an allowed read, limits far above the load; buildApp's
 *        server answers these from the socket, before Node's HTTP server and fastify
 *        (src/raw-http/, src/authorizer/fast-path.ts). It runs tsc's output
 *        in dist/, as `npm start` does (compiled before the servers start); `forward-auth-tsx`
 *        (BENCH_KINDS only) runs the same code through tsx;
 *      - bare: a fastify route answering 200 with a small JSON body (logger off);
 *      - node-http: a plain `node:http` server answering the same JSON (the ceiling for Node);
 *      - node-http-headers: a plain `node:http` server answering forward-auth's exact allowed
 *        headers without deciding anything (what the answer's size costs: the most any
 *        forward-auth sending those headers can reach against node-http);
 *      - forward-auth-usage-off: the same forward-auth with USAGE_RECORDING=false, so that the
 *        ratio of the two in the same rounds is what counting usage costs;
 *      - bearer: @fastify/bearer-auth with a static list of 30 keys (a stack's maximum) plus
 *        @fastify/rate-limit keyed by the bearer key, limits far above the load.
 *    Every response must be a 2xx, or the run fails.
 * 5. Scale-out (`scaleOut` below; BENCH_ONLY=scale-out runs it alone): the forward-auth build
 *    with counters in memory, with REDIS_URL (BENCH_REDIS_URL, default the Redis on
 *    127.0.0.1:6379), and two instances sharing that Redis, on 10,000 tokens each under its limit;
 *    ratios against the in-memory build in the same rounds, p99 per mode.
 * Writes bench/results/authorizer.json and bench/results/scale-out.json and prints tables.
 *
 * For investigation (the JSON is then not the reference run): BENCH_TOKENS and BENCH_ROUNDS
 * shrink the run, BENCH_SCALE_OUT=0 skips the scale-out section; BENCH_KINDS picks the servers (default bare,node-http,node-http-headers,
 * forward-auth,bearer); BENCH_CPU_PROF=DIR writes a V8 CPU profile of the forward-auth server;
 * BENCH_COMPARE=DIR with the kind `forward-auth-compare` runs another checkout's forward-auth
 * server (say, the commit before a change) on its own copy of the same read models, in the same
 * rounds: an A/B of two versions at one time.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { projectionsFor, READ_MODEL_PROJECTIONS } from '../projections/index.js'
import { compileService } from './compile.js'
import { createAuthorizer } from '../src/authorizer/decide.js'
import { type Config, testConfig } from '../src/config.js'
import { checksumOf, hashSecret, SECRET_PREFIX } from '../src/domain/secret.js'
import { SqliteEventStore } from '../src/eventstore/sqlite.js'
import { stackStream } from '../src/eventstore/streams.js'
import { buildApp } from '../src/http/app.js'
import { Projector } from '../src/read/projector.js'
import { UsageRecorder } from '../src/usage/recorder.js'
import { openReadModels, openService } from '../src/service.js'

const TOKENS = Number(process.env.BENCH_TOKENS ?? 100_000)
const PER_STACK = 30
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)
const DURATION_S = 4
const WARMUP_S = 3
const CONNECTIONS = 32
const DECISIONS = 200_000
const REQUEST_TOKENS = 1000
const BEARER_KEYS = 30
const GENEROUS = 1_000_000_000
const URI = '/v3/content_types/blog/entries'
const SMALL_JSON = { ok: true }

const self = fileURLToPath(import.meta.url)

/** Secrets of the issued form (with their checksum), so every decision checks one as in service. */
const secretOf = (i: number) => {
  const digits = createHash('sha256').update(`bench-token-${i}`).digest('hex').slice(0, 32)
  return `${SECRET_PREFIX}${digits}${checksumOf(digits)}`
}
const apiKeyOf = (s: number) => `blt${s.toString(16).padStart(16, '0')}`
/** `overrides`: the scale-out section's limits and REDIS_URL (a JSON argument of the child). */
const benchConfig = (dataDir: string, overrides: Partial<Config> = {}): Config =>
  testConfig({ dataDir, eventStoreUrl: `sqlite:${join(dataDir, '..', 'events.db')}`, planReadLimit: GENEROUS, planWriteLimit: GENEROUS, authFailureLimit: GENEROUS, ...overrides })

// ---------------------------------------------------------------------------------------------
// Children

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..')
/**
 * The service's modules as tsc compiled them (what `npm start` and the package's exports run),
 * not as tsx transpiles them on the fly: tsx keeps every function's name with a helper that calls
 * Object.defineProperty each time a closure is made, a cost the shipped code does not have.
 */
const compiled = async () => {
  const dist = (path: string) => pathToFileURL(join(root, 'dist', path)).href
  const service = (await import(dist('src/service.js'))) as typeof import('../src/service.js')
  const app = (await import(dist('src/http/app.js'))) as typeof import('../src/http/app.js')
  return { openService: service.openService, buildApp: app.buildApp }
}

const serve = async (kind: string, dataDir: string, overrides: Partial<Config> = {}) => {
  // A normal exit on SIGINT, so that --cpu-prof writes its profile.
  process.on('SIGINT', () => process.exit(0))
  const Fastify = (await import('fastify')).default
  let app
  if (kind === 'forward-auth' || kind === 'forward-auth-tsx') {
    // As `npm start` runs it: tsc's output in dist/ (compiled by the parent before the servers).
    const shipped = kind === 'forward-auth' ? await compiled() : { openService, buildApp }
    const service = await shipped.openService(benchConfig(dataDir, overrides))
    await service.projector.waitFor(0)
    app = await shipped.buildApp(service)
  } else if (kind === 'bare') {
    app = Fastify()
    app.get('/v3/authorize', async () => SMALL_JSON)
  } else if (kind === 'node-http' || kind === 'node-http-headers') {
    const { createServer } = await import('node:http')
    const body = JSON.stringify(SMALL_JSON)
    let n = 0
    // node-http-headers: forward-auth's allowed answer, header for header, with no decision.
    const server = createServer(kind === 'node-http' ? (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    } : (_req, res) => {
      n++
      res.writeHead(200, [
        'x-ratelimit-limit', '1000000000', 'x-ratelimit-remaining', String(999999999 - (n % 1000)),
        'ratelimit-policy', '"token";q=1000000000;w=1, "stack";q=1000000000;w=1',
        'ratelimit', `"token";r=${999999999 - (n % 1000)};t=1, "stack";r=${999999999 - (n % 1000)};t=1`,
        'x-token-uid', 'blt00000000000003e8', 'x-stack-api-key', 'blt0000000000000021', 'content-length', '0',
        'x-request-id', `3f1c2d4e-0000-4000-8000-${String(n).padStart(12, '0')}`,
      ])
      res.end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    process.stdout.write(`LISTENING http://127.0.0.1:${port}\n`)
    process.on('message', (m) => {
      if (m === 'rss') process.send?.({ rss: process.memoryUsage().rss })
    })
    return
  } else {
    app = Fastify()
    const keys = Array.from({ length: BEARER_KEYS }, (_, i) => secretOf(i))
    await app.register((await import('@fastify/rate-limit')).default, {
      max: GENEROUS,
      timeWindow: 1000,
      keyGenerator: (req) => String(req.headers.authorization),
    })
    await app.register((await import('@fastify/bearer-auth')).default, { keys })
    app.get('/v3/authorize', async (_req, reply) => reply.code(200).send())
  }
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  process.stdout.write(`LISTENING ${address}\n`)
  process.on('message', (m) => {
    if (m === 'rss') process.send?.({ rss: process.memoryUsage().rss })
  })
}

const memory = async (dataDir: string) => {
  const gc = (globalThis as { gc?: () => void }).gc as () => void
  const readDb = openReadModels(dataDir, READ_MODEL_PROJECTIONS)
  const deps = { config: benchConfig(dataDir), readDb, clock: () => new Date() }
  const authorizer = createAuthorizer(deps)
  const apiKeyOfToken = (i: number) => apiKeyOf(Math.floor(i / PER_STACK))
  // Code paths and statements warmed on a few tokens before the baseline.
  for (let i = 0; i < 100; i++) authorizer.authorize({ method: 'GET', path: URI, apiKey: apiKeyOfToken(i), authorization: secretOf(i), branch: undefined })
  gc()
  const before = process.memoryUsage().rss
  let allowed = 0
  for (let i = 0; i < TOKENS; i++) {
    const d = authorizer.authorize({ method: 'GET', path: URI, apiKey: apiKeyOfToken(i), authorization: secretOf(i), branch: undefined })
    if (!(d instanceof Promise) && d.allowed) allowed++
  }
  gc()
  const after = process.memoryUsage().rss
  process.stdout.write(`${JSON.stringify({ before, after, allowed })}\n`)
  readDb.close()
}

// ---------------------------------------------------------------------------------------------
// Orchestrator

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const load = async (dir: string, tokens = TOKENS, perStack = PER_STACK) => {
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const started = performance.now()
  const stacks = Math.ceil(tokens / perStack)
  const meta = () => ({ actor: 'bench', occurred_at: new Date().toISOString(), request_id: randomUUID(), remote_addr: '127.0.0.1', schema_version: 1 })
  let last = 0
  for (let s = 0; s < stacks; s++) {
    const api_key = apiKeyOf(s)
    const events = [{ id: randomUUID(), type: 'StackCreated', data: { api_key, name: `Stack ${s}`, description: '', owner_email: `owner${s}@example.com`, owner_uid: `owner${s}` }, metadata: meta() }]
    for (let i = s * perStack; i < Math.min(tokens, (s + 1) * perStack); i++)
      events.push({
        id: randomUUID(),
        type: 'TokenGenerated',
        data: {
          api_key,
          token_uid: `blt${i.toString(16).padStart(16, '0')}`,
          name: `token ${i}`,
          description: '',
          scope: [
            { module: 'content_type', acl: { read: true, write: true } },
            { module: 'entry', acl: { read: true, write: i % 2 === 0 } },
            { module: 'asset', acl: { read: true, write: false } },
          ],
          expires_on: null,
          rate_limit: null,
          is_email_notification_enabled: false,
          secret_hash: hashSecret(secretOf(i)),
        } as never,
        metadata: meta(),
      })
    const r = store.appendSync(stackStream(api_key), events, 'no_stream')
    if (r._tag === 'Left') throw new Error('append failed')
    last = r.right.position
  }
  const appended = performance.now()
  const dataDir = join(dir, 'data')
  // What the service keeps on the embedded store (read-models.db; the audit log is the store's rows).
  const projections = projectionsFor(store)
  const readDb = openReadModels(dataDir, projections)
  const projector = new Projector(readDb, store, projections)
  projector.start()
  await projector.waitFor(last)
  const projected = performance.now()
  return { store, readDb, projector, dataDir, appendMs: appended - started, projectMs: projected - appended, events: last }
}

/** As in the service: the projector writes through the same connection the authorizer reads. */
const inProcess = (dataDir: string, readDb: ReturnType<typeof openReadModels>, projector: Projector) => {
  const authorizer = createAuthorizer({ config: benchConfig(dataDir), readDb, projector, clock: () => new Date() })
  const pick = () => Math.floor(Math.random() * TOKENS)
  const inputOf = (i: number) => ({ method: 'GET', path: URI, apiKey: apiKeyOf(Math.floor(i / PER_STACK)), authorization: `Bearer ${secretOf(i)}`, branch: undefined })
  const inputs = Array.from({ length: 4096 }, () => inputOf(pick()))
  for (let i = 0; i < 50_000; i++) authorizer.authorize(inputs[i & 4095] as ReturnType<typeof inputOf>)
  const times = new Float64Array(DECISIONS)
  let allowed = 0
  for (let i = 0; i < DECISIONS; i++) {
    const input = inputs[i & 4095] as ReturnType<typeof inputOf>
    const t0 = process.hrtime.bigint()
    const d = authorizer.authorize(input)
    times[i] = Number(process.hrtime.bigint() - t0) / 1000
    if (!(d instanceof Promise) && d.allowed) allowed++
  }
  if (allowed !== DECISIONS) throw new Error(`in-process: only ${allowed} of ${DECISIONS} allowed`)
  times.sort()
  const mean = times.reduce((a, b) => a + b, 0) / times.length
  return { decisions: DECISIONS, p50_us: percentile(times, 0.5), p99_us: percentile(times, 0.99), p999_us: percentile(times, 0.999), mean_us: mean }
}

/**
 * The decision with usage recording on and off, in process: two authorizers on the same read
 * models, one telling a UsageRecorder (emptied as a flush would, every 100,000 decisions), timed
 * in turn for ROUNDS rounds of DECISIONS decisions; the ratio of median decisions per second.
 */
const inProcessUsage = (dataDir: string, readDb: ReturnType<typeof openReadModels>, projector: Projector) => {
  const recorder = new UsageRecorder({ maxEntries: 1_000_000 })
  const on = createAuthorizer({ config: benchConfig(dataDir), readDb, projector, clock: () => new Date(), usage: recorder })
  const off = createAuthorizer({ config: benchConfig(dataDir), readDb, projector, clock: () => new Date() })
  // A second authorizer without recording: how far two identical ones differ here (an A/A).
  const off2 = createAuthorizer({ config: benchConfig(dataDir), readDb, projector, clock: () => new Date() })
  const inputOf = (i: number) => ({ method: 'GET', path: URI, apiKey: apiKeyOf(Math.floor(i / PER_STACK)), authorization: `Bearer ${secretOf(i)}`, branch: undefined, clientAddress: `10.0.${(i >> 8) & 255}.${i & 255}` })
  const inputs = Array.from({ length: 4096 }, (_, k) => inputOf((Math.floor((k * TOKENS) / 4096) + (k % PER_STACK)) % TOKENS))
  const time = (a: typeof on) => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < DECISIONS; i++) {
      a.authorize(inputs[i & 4095] as ReturnType<typeof inputOf>)
      if (i % 100_000 === 99_999) recorder.take()
    }
    return DECISIONS / (Number(process.hrtime.bigint() - t0) / 1e9)
  }
  time(on)
  time(off)
  time(off2)
  const rates: Record<'on' | 'off' | 'off2', number[]> = { on: [], off: [], off2: [] }
  for (let round = 0; round < ROUNDS; round++) {
    // The order turns each round, so that no one is always first after the other's garbage.
    const order = [['on', on], ['off', off], ['off2', off2]] as const
    for (let k = 0; k < 3; k++) {
      const [name, a] = order[(round + k) % 3] as (typeof order)[number]
      rates[name].push(time(a))
    }
  }
  const ratios = rates.on.map((x, i) => x / (rates.off[i] as number)).sort((a, b) => a - b)
  return {
    decisions_per_round: DECISIONS,
    rounds: ROUNDS,
    on_per_s: median(rates.on),
    off_per_s: median(rates.off),
    on_vs_off: median(rates.on) / median(rates.off),
    round_ratio_range: { min: ratios[0], max: ratios[ratios.length - 1] },
    a_a_off2_vs_off: median(rates.off2) / median(rates.off),
  }
}

/**
 * Servers on the last core, wrk on the first, when `taskset` exists. Only the parent pins itself
 * (to the first core, beside wrk): a child imports this module too, and re-pinning itself there
 * would put every server on wrk's core. `onCore` checks each server where it runs.
 */
const [mode, ...args] = process.argv.slice(2)
const isParent = mode !== 'serve' && mode !== 'memory'
const canPin = isParent && cpus().length >= 2 && spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' }).status === 0
const SERVER_CPU = String(cpus().length - 1)
const spawnChild = (args: string[], nodeArgs: string[] = [], script = self) => {
  const argv = [...nodeArgs, '--import', 'tsx', script, ...args]
  const [cmd, cmdArgs] = canPin ? ['taskset', ['-c', SERVER_CPU, process.execPath, ...argv]] : [process.execPath, argv]
  return spawn(cmd as string, cmdArgs as string[], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'], env: { ...process.env, LOG_LEVEL: 'info' } })
}
/**
 * BENCH_COMPARE=DIR: another checkout of this project (say, the commit before a change), whose
 * forward-auth server runs as the kind `forward-auth-compare` on the same read models, in the
 * same rounds: an A/B of two versions on one machine at one time.
 */
const COMPARE = process.env.BENCH_COMPARE
/** Its own copy of the event store and read models, so the two servers share no SQLite file. */
const compareCopy = (dir: string) => {
  const copy = join(dir, 'compare')
  mkdirSync(copy)
  cpSync(join(dir, 'events.db'), join(copy, 'events.db'))
  cpSync(join(dir, 'data', 'read-models.db'), join(copy, 'data', 'read-models.db'))
  return join(copy, 'data')
}

/** The CPUs a process may run on (Linux), as `taskset -c` spells them. */
const coresOf = (pid: number | undefined) => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
/** A pinned server must run on its own core, never on wrk's: the run fails otherwise. */
const onCore = (pid: number | undefined) => {
  if (!canPin) return
  const cores = coresOf(pid)
  if (cores !== SERVER_CPU) throw new Error(`server ${pid} runs on cpu ${cores}, not ${SERVER_CPU}`)
}

/** CPU seconds a process has used so far in user space and in the kernel (Linux), or NaN elsewhere. */
const cpuSeconds = (pid: number | undefined) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }
  } catch {
    return { user: Number.NaN, system: Number.NaN }
  }
}

const firstLine = (child: ChildProcess, prefix: string) =>
  new Promise<string>((resolve, reject) => {
    let buf = ''
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString()
      const line = buf.split('\n').find((l) => l.startsWith(prefix))
      if (line) resolve(line.slice(prefix.length).trim())
    })
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before "${prefix}"`)))
  })

interface LoadResult {
  requests: { average: number; total: number }
  latency: { p50: number; p99: number }
  non2xx: number
  errors: number
  timeouts: number
  /** The load generator's own CPU seconds. */
  client: { user: number; system: number }
}

const luaString = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`
/** A wrk script that sends the given requests in turn and prints its summary as one JSON line. */
const wrkScript = (requests: ReadonlyArray<{ path: string; headers: Record<string, string> }>) =>
  [
    'local specs = {',
    ...requests.map((r) => `  {${luaString(r.path)}, {${Object.entries(r.headers).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`).join(', ')}}},`),
    '}',
    'local reqs = {}',
    'local n = 0',
    'init = function(args) for i, s in ipairs(specs) do reqs[i] = wrk.format("GET", s[1], s[2]) end end',
    'request = function() n = n + 1; return reqs[(n % #reqs) + 1] end',
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK {"requests":%d,"duration_us":%d,"non2xx":%d,"errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d}\\n\',',
    '    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout, latency:percentile(50), latency:percentile(99)))',
    'end',
  ].join('\n')

/** wrk must be installed (Debian: `apt-get install wrk`); the benchmark refuses to run without it. */
const hasWrk = () => spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined
/**
 * One wrk run in a shell that then prints its own /proc stat: after `wait`, the shell's cutime
 * and cstime (fields 16 and 17) are wrk's CPU seconds.
 */
const wrk = (url: string, script: string, seconds: number, connections = CONNECTIONS) =>
  new Promise<LoadResult>((resolve, reject) => {
    const command = `${canPin ? 'taskset -c 0 ' : ''}wrk -t1 -c${connections} -d${seconds}s --latency -s "$1" "$2"; read -r stat < /proc/$$/stat; echo "STAT $stat"`
    const child = spawn('sh', ['-c', command, 'sh', script, url], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.once('exit', (code) => {
      const json = out.split('\n').find((l) => l.startsWith('WRK '))
      const stat = out.split('\n').find((l) => l.startsWith('STAT '))
      if (code !== 0 || !json || !stat) return reject(new Error(`wrk failed (${code}): ${out}`))
      const w = JSON.parse(json.slice(4)) as { requests: number; duration_us: number; non2xx: number; errors: number; timeouts: number; p50_us: number; p99_us: number }
      const fields = stat.slice(5).split(') ')[1]?.split(' ') ?? []
      resolve({
        requests: { average: w.requests / (w.duration_us / 1e6), total: w.requests },
        latency: { p50: w.p50_us / 1000, p99: w.p99_us / 1000 },
        non2xx: w.non2xx,
        errors: w.errors,
        timeouts: w.timeouts,
        client: { user: Number(fields[13]) / 100, system: Number(fields[14]) / 100 },
      })
    })
  })

const rss = (child: ChildProcess) =>
  new Promise<number>((resolve) => {
    child.once('message', (m) => resolve((m as { rss: number }).rss))
    child.send('rss')
  })

const main = async () => {
  const machine = { nproc: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` }
  console.error(`machine: ${machine.nproc} x ${machine.cpu}, node ${machine.node}`)
  if (!hasWrk()) throw new Error('wrk is not installed: apt-get install -y wrk')
  const loadAtStart = loadavg()
  const dir = mkdtempSync(join(tmpdir(), 'bench-authz-'))
  const children: ChildProcess[] = []
  try {
    console.error(`loading ${TOKENS} tokens ...`)
    const loaded = await load(dir)
    console.error(`  appended in ${(loaded.appendMs / 1000).toFixed(1)} s, projected in ${(loaded.projectMs / 1000).toFixed(1)} s`)
    const tokenRows = (loaded.readDb.prepare('SELECT count(*) FROM token_secrets').pluck().get() as number)
    if (tokenRows !== TOKENS) throw new Error(`expected ${TOKENS} token rows, got ${tokenRows}`)

    console.error('in-process decisions ...')
    const decision = inProcess(loaded.dataDir, loaded.readDb, loaded.projector)
    console.error('in-process decisions, usage recording on and off ...')
    const usageDecision = inProcessUsage(loaded.dataDir, loaded.readDb, loaded.projector)
    await loaded.projector.stop()
    loaded.readDb.close()
    await loaded.store.close()
    const readModelBytes = statSync(join(loaded.dataDir, 'read-models.db')).size

    console.error('memory per token ...')
    const mem = spawnChild(['memory', loaded.dataDir], ['--expose-gc'])
    children.push(mem)
    const m = JSON.parse(await firstLine(mem, '{').then((l) => `{${l}`)) as { before: number; after: number; allowed: number }
    if (m.allowed !== TOKENS) throw new Error(`memory: only ${m.allowed} allowed`)

    console.error('servers ...')
    const kinds = (process.env.BENCH_KINDS ? process.env.BENCH_KINDS.split(',') : ['bare', 'node-http', 'node-http-headers', 'forward-auth', 'forward-auth-usage-off', 'bearer']) as readonly string[]
    // A fresh server process for every measured run: a process keeps the code V8 compiled for it
    // (and its heap's layout) for life, which moves its speed by up to 15% from one process to the
    // next, so one process per kind for the whole run would repeat one draw in every round.
    const compareDir = kinds.includes('forward-auth-compare') && COMPARE ? compareCopy(dir) : undefined
    if (kinds.includes('forward-auth')) compileService()
    if (compareDir && COMPARE) compileService(COMPARE)
    const start = async (kind: string) => {
      // BENCH_CPU_PROF=DIR: a V8 CPU profile of each forward-auth server, written when it exits.
      const prof = kind.startsWith('forward-auth') && process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []
      const child =
        kind === 'forward-auth-compare' && compareDir && COMPARE
          ? spawnChild(['serve', 'forward-auth', compareDir], [], join(COMPARE, 'bench', 'authorizer.ts'))
          : kind === 'forward-auth-usage-off'
            ? spawnChild(['serve', 'forward-auth', loaded.dataDir, JSON.stringify({ usageRecording: false })], prof)
            : spawnChild(['serve', kind, loaded.dataDir], prof)
      children.push(child)
      const url = await firstLine(child, 'LISTENING ')
      onCore(child.pid)
      return { child, url }
    }
    const stop = async (server: { child: ChildProcess }) => {
      const exited = new Promise((resolve) => server.child.once('exit', resolve))
      server.child.kill('SIGINT')
      await exited
      children.splice(children.indexOf(server.child), 1)
    }
    const tokenIds = Array.from({ length: REQUEST_TOKENS }, (_, k) => (Math.floor((k * TOKENS) / REQUEST_TOKENS) + (k % PER_STACK)) % TOKENS)
    const requestsFor = (kind: string) =>
      // forward-auth-compare is asked the same requests as forward-auth.
      (kind === 'bearer' ? Array.from({ length: BEARER_KEYS }, (_, i) => i) : tokenIds).map((i) => ({
        method: 'GET',
        path: '/v3/authorize',
        headers: {
          api_key: apiKeyOf(Math.floor(i / PER_STACK)),
          authorization: `Bearer ${secretOf(i)}`,
          'x-forwarded-method': 'GET',
          'x-forwarded-uri': URI,
        },
      }))
    // Pre-flight: a forward-auth server really allows these requests.
    const preflight = async (url: string) => {
      const probe = await fetch(`${url}/v3/authorize`, { headers: requestsFor('forward-auth')[0]?.headers as Record<string, string> })
      if (probe.status !== 200) throw new Error(`forward-auth pre-flight: ${probe.status}`)
      // The whole answer forward-auth owes (identity and rate-limit headers), as measured.
      const missing = ['x-token-uid', 'x-stack-api-key', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'ratelimit-policy', 'ratelimit', 'x-request-id'].filter((h) => !probe.headers.get(h))
      if (missing.length > 0) throw new Error(`forward-auth pre-flight: no ${missing.join(', ')}`)
    }
    const scripts = new Map<string, string>()
    for (const kind of kinds) {
      const file = join(dir, `${kind}.lua`)
      writeFileSync(file, wrkScript(requestsFor(kind)))
      scripts.set(kind, file)
    }
    let rssBefore = Number.NaN
    let rssAfter = Number.NaN

    const run = async (server: { child: ChildProcess; url: string }, kind: string, seconds: number) => {
      const cpu0 = cpuSeconds(server.child.pid)
      const wall0 = performance.now()
      const r = await wrk(server.url, scripts.get(kind) as string, seconds)
      const client = { user: r.client.user * 1e6, system: r.client.system * 1e6 }
      // Share of one core each side used: whichever is near 1 bounds the requests/s.
      const wallUs = (performance.now() - wall0) * 1000
      const cpu1 = cpuSeconds(server.child.pid)
      const serverUs = { user: (cpu1.user - cpu0.user) * 1e6, system: (cpu1.system - cpu0.system) * 1e6 }
      const busy = { client: (client.user + client.system) / wallUs, server: (serverUs.user + serverUs.system) / wallUs }
      if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`${kind}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
      const n = r.requests.total
      // Per request: user space is the process's own code (ours, Node's HTTP, the client's parser);
      // the kernel's share is mostly loopback TCP and waking the other side.
      const perRequest = { server_user: serverUs.user / n, server_kernel: serverUs.system / n, client_user: client.user / n, client_kernel: client.system / n }
      return { ...r, busy, perRequest }
    }
    type Round = { rps: number; p50_ms: number; p99_ms: number; client_core_busy: number; server_core_busy: number; cpu_us_per_request: Record<string, number> }
    const serverCpu = (c: Record<string, number>) => (c.server_user as number) + (c.server_kernel as number)
    const rounds: Record<string, Round[]> = Object.fromEntries(kinds.map((k) => [k, []]))
    for (let round = 1; round <= ROUNDS; round++)
      for (const kind of kinds) {
        const server = await start(kind)
        if (kind.startsWith('forward-auth')) await preflight(server.url)
        if (kind === 'forward-auth' && round === 1) rssBefore = await rss(server.child)
        await run(server, kind, WARMUP_S)
        const r = await run(server, kind, DURATION_S)
        if (kind === 'forward-auth' && round === 1) rssAfter = await rss(server.child)
        await stop(server)
        rounds[kind]?.push({ rps: r.requests.average, p50_ms: r.latency.p50, p99_ms: r.latency.p99, client_core_busy: r.busy.client, server_core_busy: r.busy.server, cpu_us_per_request: r.perRequest })
        console.error(
          `  round ${round} ${kind.padEnd(12)} ${r.requests.average.toFixed(0).padStart(6)} req/s  server ${serverCpu(r.perRequest).toFixed(1)} us CPU/request (user ${r.perRequest.server_user.toFixed(1)}, kernel ${r.perRequest.server_kernel.toFixed(1)}), client user ${r.perRequest.client_user.toFixed(1)}  cores busy: client ${r.busy.client.toFixed(2)}, server ${r.busy.server.toFixed(2)}`,
        )
      }
    const rps = (kind: string) => median((rounds[kind] ?? []).map((x) => x.rps))
    const cpuPerRequest = (kind: string) => median((rounds[kind] ?? []).map((x) => serverCpu(x.cpu_us_per_request)))
    const roundRatios = (kind: string) => {
      const xs = (rounds['forward-auth'] ?? []).map((r, i) => r.rps / ((rounds[kind] ?? [])[i]?.rps ?? Number.NaN)).sort((a, b) => a - b)
      return { min: xs[0] as number, median: median(xs), max: xs[xs.length - 1] as number }
    }
    const splitPerRequest = (kind: string) =>
      Object.fromEntries(['server_user', 'server_kernel', 'client_user', 'client_kernel'].map((k) => [k, median((rounds[kind] ?? []).map((x) => x.cpu_us_per_request[k] as number))]))
    const http = {
      server_cpu_us_per_request: { forward_auth: cpuPerRequest('forward-auth'), forward_auth_usage_off: cpuPerRequest('forward-auth-usage-off'), bare: cpuPerRequest('bare'), node_http: cpuPerRequest('node-http'), bearer_rate_limit: cpuPerRequest('bearer') },
      // Medians of user-space and kernel CPU per request, server and client (wrk) apart.
      cpu_us_per_request: { forward_auth: splitPerRequest('forward-auth'), bare: splitPerRequest('bare'), node_http: splitPerRequest('node-http'), node_http_headers: splitPerRequest('node-http-headers'), bearer_rate_limit: splitPerRequest('bearer') },
      // Median share of its core each side kept busy: the one near 1 is what bounds req/s.
      core_busy: Object.fromEntries(
        kinds.map((k) => [k, { client: median((rounds[k] ?? []).map((x) => x.client_core_busy)), server: median((rounds[k] ?? []).map((x) => x.server_core_busy)) }]),
      ),
      forward_auth_rps: rps('forward-auth'),
      bare_rps: rps('bare'),
      node_http_rps: rps('node-http'),
      node_http_headers_rps: rps('node-http-headers'),
      bearer_rate_limit_rps: rps('bearer'),
      ratio_vs_bare: rps('forward-auth') / rps('bare'),
      ratio_vs_node_http: rps('forward-auth') / rps('node-http'),
      ratio_vs_bearer_rate_limit: rps('forward-auth') / rps('bearer'),
      // The same build with USAGE_RECORDING=false: what counting usage costs forward-auth.
      forward_auth_usage_off_rps: rps('forward-auth-usage-off'),
      usage_on_vs_off: rps('forward-auth') / rps('forward-auth-usage-off'),
      // Server CPU per request, off over on: the same comparison, less moved by a busy machine.
      usage_cpu_off_vs_on: cpuPerRequest('forward-auth-usage-off') / cpuPerRequest('forward-auth'),
      // node:http writing forward-auth's allowed answer, header for header, deciding nothing: the
      // most any forward-auth that sends those headers can reach against bare node:http.
      headers_only_vs_node_http: rps('node-http-headers') / rps('node-http'),
      // The same ratios round by round (servers measured back to back): how much the machine moved.
      round_ratio_range: { vs_bare: roundRatios('bare'), vs_node_http: roundRatios('node-http'), vs_bearer_rate_limit: roundRatios('bearer'), usage_on_vs_off: roundRatios('forward-auth-usage-off') },
      rounds,
    }
    const memoryResult = {
      rss_growth_bytes: m.after - m.before,
      rss_bytes_per_token: (m.after - m.before) / TOKENS,
      read_model_file_bytes_per_token: readModelBytes / TOKENS,
      forward_auth_server_rss_bytes: { before_load: rssBefore, after_load: rssAfter },
    }
    const result = {
      at: new Date().toISOString(),
      machine,
      setup: {
        tokens: TOKENS,
        stacks: Math.ceil(TOKENS / PER_STACK),
        load: { events: loaded.events, append_s: loaded.appendMs / 1000, project_s: loaded.projectMs / 1000 },
        http: {
          connections: CONNECTIONS,
          duration_s: DURATION_S,
          warmup_s: WARMUP_S,
          rounds: ROUNDS,
          distinct_tokens_per_run: REQUEST_TOKENS,
          bearer_keys: BEARER_KEYS,
          servers: `a fresh child process for each run${canPin ? ` pinned to cpu ${SERVER_CPU}` : ''}; wrk -t1${canPin ? ' pinned to cpu 0' : ''}`,
          load_average_at_start: loadAtStart,
        },
      },
      in_process: decision,
      in_process_usage: usageDecision,
      http,
      memory: memoryResult,
      targets: {
        ratio_vs_bare: { target: 1.0, met: http.ratio_vs_bare >= 1.0 },
        ratio_vs_node_http: { target: 0.8, met: http.ratio_vs_node_http >= 0.8 },
        ratio_vs_bearer_rate_limit: { target: 1.0, met: http.ratio_vs_bearer_rate_limit >= 1.0 },
        usage_on_vs_off: { target: 0.97, met: http.usage_on_vs_off >= 0.97 },
        decision_p99_us: { target: 10, met: decision.p99_us <= 10 },
      },
    }
    mkdirSync(join(self, '..', 'results'), { recursive: true })
    writeFileSync(join(self, '..', 'results', 'authorizer.json'), `${JSON.stringify(result, null, 2)}\n`)
    const row = (name: string, value: string, target = '') => `| ${name.padEnd(44)} | ${value.padStart(14)} | ${target.padEnd(14)} |`
    const fixed = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'not run')
    const fixed2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'not run')
    console.log(
      [
        `Authorizer benchmark: ${machine.nproc} x ${machine.cpu}, node ${machine.node}, ${TOKENS} tokens`,
        row('measure', 'value', 'target'),
        row('-'.repeat(44), '-'.repeat(14), '-'.repeat(14)),
        row('forward-auth allowed reads (req/s, median)', fixed(http.forward_auth_rps)),
        row('bare fastify 200 (req/s, median)', fixed(http.bare_rps)),
        row('bare node:http 200 (req/s, median)', fixed(http.node_http_rps)),
        row('bearer-auth + rate-limit (req/s, median)', fixed(http.bearer_rate_limit_rps)),
        row('node:http, forward-auth headers, no decision', fixed(http.node_http_headers_rps)),
        row('ratio forward-auth / bare fastify', fixed2(http.ratio_vs_bare), '>= 1.00'),
        row('ratio forward-auth / bare node:http', fixed2(http.ratio_vs_node_http), '>= 0.80'),
        row('ratio forward-auth / bearer + rate-limit', fixed2(http.ratio_vs_bearer_rate_limit), '>= 1.00'),
        row('ratio headers, no decision / bare node:http', fixed2(http.headers_only_vs_node_http)),
        row('ratio forward-auth usage on / off', fixed2(http.usage_on_vs_off), '>= 0.97'),
        row('  server CPU per request, off / on', fixed2(http.usage_cpu_off_vs_on)),
        row('  decisions/s in process, on / off', fixed2(usageDecision.on_vs_off)),
        row('  the same, two without recording (A/A)', fixed2(usageDecision.a_a_off2_vs_off)),
        ...([['bare', http.round_ratio_range.vs_bare], ['node:http', http.round_ratio_range.vs_node_http], ['bearer + rl', http.round_ratio_range.vs_bearer_rate_limit], ['usage off', http.round_ratio_range.usage_on_vs_off]] as const).map(([label, r]) =>
          row(`  per round, / ${label}: min-max`, `${fixed2(r.min)}-${fixed2(r.max)}`),
        ),
        ...([['forward_auth', 'forward-auth'], ['bare', 'bare'], ['node_http', 'node:http'], ['node_http_headers', 'headers only'], ['bearer_rate_limit', 'bearer + rl']] as const).map(([k, label]) => {
          const c = http.cpu_us_per_request[k] as Record<string, number>
          const f = (x: number | undefined) => (x ?? Number.NaN).toFixed(1)
          return row(`${label} (us/request): server user+kernel; client user`, `${f(c.server_user)}+${f(c.server_kernel)}; ${f(c.client_user)}`)
        }),
        row('decision p50 (us, in process)', decision.p50_us.toFixed(1)),
        row('decision p99 (us, in process)', decision.p99_us.toFixed(1), '<= 10'),
        row('resident bytes per token (all in use)', memoryResult.rss_bytes_per_token.toFixed(0)),
        row('read-model file bytes per token', memoryResult.read_model_file_bytes_per_token.toFixed(0)),
      ].join('\n'),
    )
  } finally {
    for (const c of children) c.kill('SIGINT')
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Scale-out: budgets shared through Redis against counters in memory

const SCALE_TOKENS = 10_000
const SCALE_PER_STACK = 10
/** Plan limits of the scale-out section: each token's and each stack's read budget per second. */
const SCALE_LIMIT = 1000
const SCALE_ROUNDS = Number(process.env.BENCH_SCALE_ROUNDS ?? 5)
const SCALE_REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
/**
 * BENCH_SCALE_COMPARE=DIR[,DIR...]: other checkouts of this project (at or after the commit that
 * added this section), each run as one more mode, `redis@<folder name>`: one instance with
 * REDIS_URL, in the same rounds (an A/B of how the counters reach Redis).
 */
const SCALE_COMPARE = (process.env.BENCH_SCALE_COMPARE ?? '').split(',').filter((d) => d !== '')

/**
 * The same forward-auth build three ways, in turn, ROUNDS times, on 10,000 tokens over 1,000
 * stacks with limits far above each token's and each stack's share of the load (every answer must
 * be a 200): `memory` (one instance, counters in memory: the baseline), `redis` (one instance
 * with REDIS_URL) and `redis-2` (two instances sharing that Redis, each driven by its own wrk with
 * half the connections; both on the server core, so the pair has the CPU one instance has and the
 * ratio shows what sharing costs, not what a second machine adds). The Redis keys carry a prefix
 * of their own (ioredis' `keyPrefix` in the URL's query), so a run shares nothing with other
 * users of that Redis. Redis itself is not pinned: its CPU per request is read from /proc.
 */
const scaleOut = async (compiled: boolean) => {
  const { Redis } = await import('ioredis')
  const machine = { nproc: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version }
  const loadAtStart = loadavg()
  const dir = mkdtempSync(join(tmpdir(), 'bench-scale-'))
  const children: ChildProcess[] = []
  const client = new Redis(SCALE_REDIS, { maxRetriesPerRequest: 1, lazyConnect: true })
  try {
    await client.connect()
    const redisPid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1])
    const prefix = `bench-${randomUUID().slice(0, 8)}:`
    const redisUrl = `${SCALE_REDIS}${SCALE_REDIS.includes('?') ? '&' : '?'}keyPrefix=${prefix}`
    console.error(`scale-out: loading ${SCALE_TOKENS} tokens in ${SCALE_TOKENS / SCALE_PER_STACK} stacks ...`)
    const loaded = await load(dir, SCALE_TOKENS, SCALE_PER_STACK)
    await loaded.projector.stop()
    loaded.readDb.close()
    await loaded.store.close()
    // The second instance reads its own copy: instances share Redis, not SQLite files.
    const second = compareCopy(dir)
    if (!compiled) compileService()
    for (const d of SCALE_COMPARE) compileService(d)
    const limits = { planReadLimit: SCALE_LIMIT, planWriteLimit: SCALE_LIMIT }
    const tokenUid = (i: number) => `blt${i.toString(16).padStart(16, '0')}`
    // A stride coprime with the token count, so consecutive requests go to different stacks.
    const order = Array.from({ length: SCALE_TOKENS }, (_, k) => (k * 7919) % SCALE_TOKENS)
    const requests = order.map((i) => ({
      path: '/v3/authorize',
      headers: { api_key: apiKeyOf(Math.floor(i / SCALE_PER_STACK)), authorization: `Bearer ${secretOf(i)}`, 'x-forwarded-method': 'GET', 'x-forwarded-uri': URI },
    }))
    const script = join(dir, 'scale.lua')
    writeFileSync(script, wrkScript(requests))
    const compareOf = new Map(SCALE_COMPARE.map((d) => [`redis@${d.split('/').filter((x) => x !== '').pop()}`, d]))
    const modes = ['memory', 'redis', 'redis-2', ...compareOf.keys()]
    type Mode = string
    const start = async (m: Mode, dataDir: string) => {
      const other = compareOf.get(m)
      const args = ['serve', 'forward-auth', dataDir, JSON.stringify(m === 'memory' ? limits : { ...limits, redisUrl })]
      const child = other ? spawnChild(args, [], join(other, 'bench', 'authorizer.ts')) : spawnChild(args)
      children.push(child)
      const url = await firstLine(child, 'LISTENING ')
      onCore(child.pid)
      // An allowed read with its rate-limit headers; with Redis, counted under this run's prefix.
      const probe = await fetch(`${url}/v3/authorize`, { headers: requests[0]?.headers as Record<string, string> })
      if (probe.status !== 200 || probe.headers.get('x-ratelimit-limit') !== String(SCALE_LIMIT)) throw new Error(`scale-out ${m} pre-flight: ${probe.status}`)
      // Counted in the current window's hash (or, for an earlier build compared, the token's own key).
      const field = `t:read:${tokenUid(order[0] as number)}`
      const index = Math.floor(Date.now() / 1000)
      const inWindow = await Promise.all([index - 1, index].map((w) => client.hexists(`${prefix}mt-rl:w:${w}`, field)))
      const counted = inWindow.includes(1) ? 1 : await client.exists(`${prefix}mt-rl:${field}`)
      if ((m !== 'memory') !== (counted === 1)) throw new Error(`scale-out ${m}: the token's key is ${counted ? '' : 'not '}in Redis`)
      return { child, url }
    }
    const stop = async (server: { child: ChildProcess }) => {
      const exited = new Promise((resolve) => server.child.once('exit', resolve))
      server.child.kill('SIGINT')
      await exited
      children.splice(children.indexOf(server.child), 1)
    }
    const redisCpu = () => {
      const c = cpuSeconds(redisPid)
      return c.user + c.system
    }
    /** Script calls Redis has run (EVALSHA and EVAL): what a request costs in round trips. */
    const scriptCalls = async () => {
      const stats = await client.info('commandstats')
      return [...stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0)
    }
    type Run = { rps: number; p99_ms: number; p50_ms: number; server_cpu_us_per_request: number; redis_cpu_us_per_request: number; redis_calls_per_request: number; server_core_busy: number }
    const drive = async (servers: Array<{ child: ChildProcess; url: string }>, seconds: number): Promise<Run> => {
      const cpu0 = servers.map((s) => cpuSeconds(s.child.pid))
      const redis0 = redisCpu()
      const calls0 = await scriptCalls()
      const wall0 = performance.now()
      const rs = await Promise.all(servers.map((s) => wrk(s.url, script, seconds, CONNECTIONS / servers.length)))
      const wallUs = (performance.now() - wall0) * 1000
      const serverUs = servers.reduce((sum, s, i) => {
        const c = cpuSeconds(s.child.pid)
        return sum + (c.user - (cpu0[i]?.user ?? 0) + c.system - (cpu0[i]?.system ?? 0)) * 1e6
      }, 0)
      const redisUs = (redisCpu() - redis0) * 1e6
      const calls = (await scriptCalls()) - calls0
      for (const r of rs) if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`scale-out: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`)
      const n = rs.reduce((sum, r) => sum + r.requests.total, 0)
      return {
        rps: rs.reduce((sum, r) => sum + r.requests.average, 0),
        p50_ms: Math.max(...rs.map((r) => r.latency.p50)),
        p99_ms: Math.max(...rs.map((r) => r.latency.p99)),
        server_cpu_us_per_request: serverUs / n,
        redis_cpu_us_per_request: redisUs / n,
        redis_calls_per_request: calls / n,
        server_core_busy: serverUs / wallUs,
      }
    }
    const rounds: Record<Mode, Run[]> = Object.fromEntries(modes.map((m) => [m, []]))
    const runs = (m: Mode) => rounds[m] ?? []
    for (let round = 1; round <= SCALE_ROUNDS; round++)
      for (const m of modes) {
        const servers = [await start(m, loaded.dataDir)]
        if (m === 'redis-2') servers.push(await start(m, second))
        await drive(servers, WARMUP_S)
        const r = await drive(servers, DURATION_S)
        for (const s of servers) await stop(s)
        runs(m).push(r)
        console.error(
          `  round ${round} ${m.padEnd(8)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50_ms.toFixed(2)} ms  p99 ${r.p99_ms.toFixed(2)} ms  server ${r.server_cpu_us_per_request.toFixed(1)} us CPU/request, redis ${r.redis_cpu_us_per_request.toFixed(1)}, ${r.redis_calls_per_request.toFixed(3)} calls/request`,
        )
      }
    const med = (m: Mode, k: keyof Run) => median(runs(m).map((r) => r[k]))
    const perRound = (m: Mode) => runs(m).map((r, i) => r.rps / (runs('memory')[i]?.rps ?? Number.NaN))
    type Summary = { rps: number; ratio_vs_memory: number; ratio_per_round: number[]; p50_ms: number; p99_ms: number; p99_over_memory_ms: number; server_cpu_us_per_request: number; redis_cpu_us_per_request: number; redis_calls_per_request: number; server_core_busy: number }
    const summary = Object.fromEntries(
      modes.map((m) => [
        m,
        {
          rps: med(m, 'rps'),
          ratio_vs_memory: med(m, 'rps') / med('memory', 'rps'),
          ratio_per_round: perRound(m),
          p50_ms: med(m, 'p50_ms'),
          p99_ms: med(m, 'p99_ms'),
          p99_over_memory_ms: med(m, 'p99_ms') - med('memory', 'p99_ms'),
          server_cpu_us_per_request: med(m, 'server_cpu_us_per_request'),
          redis_cpu_us_per_request: med(m, 'redis_cpu_us_per_request'),
          redis_calls_per_request: med(m, 'redis_calls_per_request'),
          server_core_busy: med(m, 'server_core_busy'),
        },
      ]),
    ) as Record<Mode, Summary>
    const redisOne = summary.redis as Summary
    const result = {
      at: new Date().toISOString(),
      machine,
      setup: {
        compare: Object.fromEntries(compareOf),
        tokens: SCALE_TOKENS,
        stacks: SCALE_TOKENS / SCALE_PER_STACK,
        read_limit_per_token_and_stack: SCALE_LIMIT,
        rounds: SCALE_ROUNDS,
        duration_s: DURATION_S,
        warmup_s: WARMUP_S,
        connections: CONNECTIONS,
        redis: SCALE_REDIS,
        servers: `a fresh child process for each run${canPin ? ` pinned to cpu ${SERVER_CPU}` : ''}; wrk -t1${canPin ? ' pinned to cpu 0' : ''} (redis-2: one wrk per instance, half the connections each)`,
        load_average_at_start: loadAtStart,
      },
      modes: summary,
      rounds,
      targets: {
        redis_ratio_vs_memory: { target: 0.8, met: redisOne.ratio_vs_memory >= 0.8 },
        redis_p99_over_memory_ms: { target: 2, met: redisOne.p99_over_memory_ms <= 2 },
      },
    }
    mkdirSync(join(self, '..', 'results'), { recursive: true })
    writeFileSync(join(self, '..', 'results', 'scale-out.json'), `${JSON.stringify(result, null, 2)}\n`)
    const f2 = (x: number) => x.toFixed(2)
    const width = Math.max(...modes.map((m) => m.length))
    console.log(
      [
        `Scale-out: ${SCALE_TOKENS} tokens in ${SCALE_TOKENS / SCALE_PER_STACK} stacks, forward-auth allowed reads, medians of ${SCALE_ROUNDS} rounds`,
        `| ${'mode'.padEnd(width)} |  req/s | / memory | per round   | p50 ms | p99 ms | server us/req | redis us/req | calls/req |`,
        `|${'-'.repeat(width + 2)}|-------:|---------:|-------------|-------:|-------:|--------------:|-------------:|----------:|`,
        ...modes.map((m) => {
          const x = summary[m] as Summary
          const pr = x.ratio_per_round
          return `| ${m.padEnd(width)} | ${x.rps.toFixed(0).padStart(6)} | ${f2(x.ratio_vs_memory).padStart(8)} | ${`${f2(Math.min(...pr))}-${f2(Math.max(...pr))}`.padEnd(11)} | ${f2(x.p50_ms).padStart(6)} | ${f2(x.p99_ms).padStart(6)} | ${x.server_cpu_us_per_request.toFixed(1).padStart(13)} | ${x.redis_cpu_us_per_request.toFixed(1).padStart(12)} | ${x.redis_calls_per_request.toFixed(3).padStart(9)} |`
        }),
        `target: redis / memory >= 0.80 (${result.targets.redis_ratio_vs_memory.met ? 'met' : 'not met'}), redis p99 within 2 ms of memory's (${result.targets.redis_p99_over_memory_ms.met ? 'met' : 'not met'})`,
      ].join('\n'),
    )
  } finally {
    for (const c of children) c.kill('SIGINT')
    client.disconnect()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (mode === 'serve') await serve(args[0] as string, args[1] as string, args[2] ? (JSON.parse(args[2]) as Partial<Config>) : {})
else if (mode === 'memory') await memory(args[0] as string)
// BENCH_ONLY=scale-out runs the scale-out section alone.
else if (process.env.BENCH_ONLY === 'scale-out') await scaleOut(false)
else {
  await main()
  // main compiled the service if it ran forward-auth. BENCH_SCALE_OUT=0 skips the section.
  if (process.env.BENCH_SCALE_OUT !== '0') await scaleOut((process.env.BENCH_KINDS ?? 'forward-auth').split(',').includes('forward-auth'))
}
