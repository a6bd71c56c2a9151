/**
 * `npm run bench:ops`: operations on a seeded history of ~1,000,000 events on the embedded store
 * (BENCH_STACKS=400: ~400,000; each stack is about 1,000 events). Each measurement runs in its
 * own child process (this file with `child <task>`), so its peak memory (max RSS) is its own. The
 * seeded data dir is kept in bench/.cache (ignored by git) and reused when present; delete it to
 * seed again. Results: bench/results/ops.json (ops-<stacks>.json for another size) and a table.
 */
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { cliHelp, cliRebuild } from './cli.js'
import { compileService } from './compile.js'
import { freePort, median as mid } from './support.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const STACKS = Math.max(1, Number(process.env.BENCH_STACKS ?? 1000))
const SEED = ['--stacks', String(STACKS), '--tokens-per-stack', '20', '--changes', '47']
const dataDir = process.env.BENCH_DATA_DIR ?? join(here, '.cache', `ops-${SEED.join('').replace(/-+/g, '-')}`)

interface Measure {
  seconds: number
  events: number
  maxRssMb: number
  swapMs?: number
  note?: string
  /** Every run's seconds, when the measure is a median. */
  runs?: number[]
  /** Figures of a task that are not seconds of one run. */
  detail?: Record<string, number>
}

const maxRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024)

/** Rounds of the baseline and the parallel rebuild (BENCH_ROUNDS, default 3). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))

/** The median run by seconds (the upper one of an even count), noting every run's seconds. */
const median = (ms: readonly Measure[]): Measure => {
  const sorted = [...ms].sort((a, b) => a.seconds - b.seconds)
  const m = sorted[Math.floor(sorted.length / 2)] as Measure
  if (ms.length === 1) return m
  const all = `median of ${ms.length} runs: ${ms.map((x) => x.seconds.toFixed(2)).join(', ')} s`
  const swaps = ms.flatMap((x) => (x.swapMs === undefined ? [] : [x.swapMs]))
  const swapMs = swaps.length > 0 ? Math.max(...swaps) : undefined
  const note = swapMs === undefined ? all : `${all}; the swap held a write lock ${swapMs} ms at most`
  return { ...m, maxRssMb: Math.max(...ms.map((x) => x.maxRssMb)), ...(swapMs === undefined ? {} : { swapMs }), note, runs: ms.map((x) => Number(x.seconds.toFixed(3))) }
}

/**
 * A rebuild of the seeded data dir: `embedded`, what the service keeps on the embedded store
 * (read-models.db; the audit log is the store's own rows), in parallel or on one thread; or `esdb`,
 * every projection file after file on one thread (audit.db too), as beside EventStoreDB.
 */
const rebuildTask = async (which: 'embedded' | 'esdb', how: 'parallel' | 'sequential' = 'parallel'): Promise<Measure> => {
  const { SqliteEventStore } = await import('../src/eventstore/sqlite.js')
  const { openReadModels } = await import('../src/service.js')
  const { rebuildEachFile, rebuildFiles } = await import('../src/read/rebuild-files.js')
  const { PROJECTIONS, PROJECTIONS_MODULE, projectionsFor } = await import('../projections/index.js')
  const store = new SqliteEventStore(join(dataDir, 'events.db'))
  const projections = which === 'embedded' ? projectionsFor(store) : PROJECTIONS
  const db = openReadModels(dataDir, projections)
  const started = performance.now()
  const r = await (how === 'parallel' ? rebuildFiles : rebuildEachFile)(db, store, projections, { catalog: PROJECTIONS_MODULE })
  const seconds = (performance.now() - started) / 1000
  db.close()
  await store.close()
  return { seconds, events: r.events, maxRssMb: maxRssMb(), swapMs: Math.round(r.swapMs), note: `${r.projections.join(', ')}; swap held a write lock ${Math.round(r.swapMs)} ms at most` }
}

/**
 * What reading the audit log from the event store's rows costs a query, against audit.db's table
 * (the audit-log projection, built by rebuild_esdb_path): 300 stacks, each asked in turn by both
 * for the first page (25, with the count), a filtered page (an actor, with the count), and one
 * entry by its uid; the same answers checked equal, untimed. Medians in microseconds.
 */
const auditQueries = async (): Promise<Measure> => {
  const { SqliteEventStore } = await import('../src/eventstore/sqlite.js')
  const { openReadModels } = await import('../src/service.js')
  const { PROJECTIONS } = await import('../projections/index.js')
  const { eventsAudit } = await import('../projections/audit-log/events-audit.js')
  const { tableAudit } = await import('../projections/queries.js')
  const store = new SqliteEventStore(join(dataDir, 'events.db'))
  const db = openReadModels(dataDir, PROJECTIONS)
  const sources = { events: eventsAudit(store.connection), table: tableAudit(db) }
  const stacks = db.prepare<[], string>('SELECT api_key FROM stacks ORDER BY api_key LIMIT 300').pluck().all()
  const times: Record<string, number[]> = {}
  const time = <T>(key: string, f: () => T): T => {
    const t0 = performance.now()
    const r = f()
    ;(times[key] ??= []).push((performance.now() - t0) * 1000)
    return r
  }
  let differ = 0
  const started = performance.now()
  for (const apiKey of stacks) {
    const first = sources.table.audit(apiKey, { limit: 1, skip: 0 }).logs[0]
    const actor = first?.created_by ?? ''
    const uid = first?.uid ?? ''
    const answers = Object.entries(sources).map(([name, source]) =>
      JSON.stringify([
        time(`${name}_page`, () => source.audit(apiKey, { limit: 25, skip: 0 })),
        time(`${name}_actor`, () => source.audit(apiKey, { actor, limit: 25, skip: 0 })),
        time(`${name}_entry`, () => source.auditEntry(apiKey, uid)),
      ]),
    )
    if (answers[0] !== answers[1]) differ += 1
  }
  const seconds = (performance.now() - started) / 1000
  db.close()
  await store.close()
  const us = Object.fromEntries(['page', 'actor', 'entry'].flatMap((q) => ['events', 'table'].map((s) => [`${s}_${q}_us`, Math.round(mid(times[`${s}_${q}`] ?? [0]))])))
  const note = ['page', 'actor', 'entry'].map((q) => `${q}: ${us[`events_${q}_us`]} us from events.db vs ${us[`table_${q}_us`]} us from audit.db`).join('; ')
  return { seconds, events: stacks.length, maxRssMb: maxRssMb(), note: `medians over ${stacks.length} stacks; ${note}; ${differ} stacks answered differently`, detail: us }
}

/** An empty read-model file in its own folder of the data dir, with the service's settings, then a rebuild's. */
const scratchFile = async (folder: string, file: 'read-models' | 'audit'): Promise<{ dir: string; db: Database.Database }> => {
  const { BULK_LOAD } = await import('../src/read/fresh.js')
  const { READ_MODEL_FILES, openReadModelFile } = await import('../src/read/files.js')
  const dir = join(dataDir, folder)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  const db = openReadModelFile(join(dir, READ_MODEL_FILES[file]), file)
  for (const [name, value] of Object.entries(BULK_LOAD)) db.pragma(`${name} = ${value}`)
  return { dir, db }
}

const writeFloor = async (file: 'read-models' | 'audit'): Promise<Measure> => {
  const { PROJECTIONS } = await import('../projections/index.js')
  const { createTables, identity, indexTables } = await import('../src/read/schema.js')
  const { PAGE_SIZE } = await import('../src/read/log.js')
  const { BatchedInsert } = await import('../src/read/batched-insert.js')
  const { READ_MODEL_FILES } = await import('../src/read/files.js')
  const projections = PROJECTIONS.filter((p) => p.file === file)
  const live = new Database(join(dataDir, READ_MODEL_FILES[file]), { readonly: true })
  const rows = new Map(projections.flatMap((p) => p.tables.map(({ name: t }) => [t, live.prepare(`SELECT * FROM ${t}`).raw().all() as unknown[][]] as const)))
  live.close()
  const { dir, db } = await scratchFile('write-floor', file)
  const started = performance.now()
  let written = 0
  for (const p of projections) {
    createTables(db, p, identity)
    for (const { name: t } of p.tables) {
      const all = rows.get(t) ?? []
      if (all.length === 0) continue
      // 16 rows to a statement (BatchedInsert), the rest one by one.
      const insert = new BatchedInsert(db, `INSERT INTO ${t}`, (all[0] as unknown[]).length)
      const page = db.transaction((from: number) => {
        for (let i = from; i < Math.min(all.length, from + PAGE_SIZE); i++) insert.add(all[i] as unknown[], 0)
        insert.flush()
      })
      for (let i = 0; i < all.length; i += PAGE_SIZE) page(i)
      written += all.length
    }
    db.transaction(() => indexTables(db, p, identity))()
  }
  const seconds = (performance.now() - started) / 1000
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return { seconds, events: written, maxRssMb: maxRssMb(), note: `${written} rows of ${READ_MODEL_FILES[file]} (not events): inserts and index builds only` }
}

/** The tasks, each run in a child process. */
const tasks: Record<string, () => Promise<Measure>> = {
  async seed() {
    const { run } = await import('../src/cli/main.js')
    let out = ''
    const code = await run(['seed', ...SEED, '--json'], { out: (s) => (out += s), err: (s) => process.stderr.write(s), env: { ...process.env, DATA_DIR: dataDir } })
    if (code !== 0) throw new Error(`seed exited ${code}`)
    const r = JSON.parse(out) as { events: number; seconds: number }
    return { seconds: r.seconds, events: r.events, maxRssMb: maxRssMb() }
  },
  /** What a rebuild is compared with: read the same rows in the same pages and parse their JSON. */
  async baseline() {
    const { SqliteEventStore } = await import('../src/eventstore/sqlite.js')
    const store = new SqliteEventStore(join(dataDir, 'events.db'))
    const started = performance.now()
    let events = 0
    let after = 0
    for (;;) {
      const rows = store.readRawPage(after, 10_000)
      if (rows.length === 0) break
      for (const r of rows) {
        JSON.parse(r.data)
        JSON.parse(r.metadata)
      }
      events += rows.length
      after = (rows[rows.length - 1] as { position: number }).position
    }
    const seconds = (performance.now() - started) / 1000
    await store.close()
    return { seconds, events, maxRssMb: maxRssMb() }
  },
  /** Every projection the embedded store keeps, on both threads (the parallel rebuild): what the target is about. */
  rebuild: () => rebuildTask('embedded'),
  /** The same on one thread: what the parallel rebuild is compared with. */
  rebuild_one_thread: () => rebuildTask('embedded', 'sequential'),
  /** Every projection with the audit log's, file after file on one thread: the EventStoreDB path. */
  rebuild_esdb_path: () => rebuildTask('esdb', 'sequential'),
  audit_queries: auditQueries,
  /**
   * The least a rebuild must write, per file, for comparison: the final rows of its read models
   * (read beforehand from the live tables, untimed) inserted into empty tables, a page per
   * transaction as a rebuild does, then their query indexes built. No event is read, decoded or
   * projected; same pragmas and page size as a rebuild. The two files have a writer each.
   */
  write_floor_read_models: () => writeFloor('read-models'),
  write_floor_audit: () => writeFloor('audit'),
  async audit() {
    const { run } = await import('../src/cli/main.js')
    const sink = createWriteStream('/dev/null')
    let lines = 0
    const started = performance.now()
    const code = await run(['audit', '--json'], {
      out: (s) => {
        for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) lines += 1
        return sink.write(s)
      },
      err: (s) => process.stderr.write(s),
      env: { ...process.env, DATA_DIR: dataDir },
      drain: async () => void (await once(sink, 'drain')),
    })
    sink.end()
    await once(sink, 'finish')
    if (code !== 0) throw new Error(`audit exited ${code}`)
    return { seconds: (performance.now() - started) / 1000, events: lines, maxRssMb: maxRssMb() }
  },
}

const child = (task: string): Promise<Measure> =>
  new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', task], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (c: Buffer) => (out += c.toString()))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Measure) : reject(new Error(`child ${task} exited ${code}`))))
  })

/** Tasks in child processes at the same time: the slower one's seconds, the last one's events. */
const atOnce = async (names: readonly string[], note: (ms: readonly Measure[]) => string): Promise<Measure> => {
  const ms = await Promise.all(names.map((n) => child(n)))
  return { seconds: Math.max(...ms.map((m) => m.seconds)), events: ms[ms.length - 1]?.events ?? 0, maxRssMb: Math.max(...ms.map((m) => m.maxRssMb)), note: note(ms) }
}

/**
 * Spawn `serve` on the persisted read models and time it until /readyz answers 200: as
 * `npm start` runs it (the compiled `bin/management-tokens.js`, built by tsc before, untimed),
 * or through tsx, which transpiles every module on the fly (as the tests do).
 */
const SERVE = {
  compiled: { args: [join(root, 'bin', 'management-tokens.js'), 'serve'], note: 'spawn `node bin/management-tokens.js serve` (as npm start) to /readyz 200' },
  tsx: { args: ['--import', 'tsx', fileURLToPath(import.meta.url), 'cli', 'serve'], note: 'spawn `node --import tsx` (transpiling on the fly) to /readyz 200' },
}

const coldStart = async (events: number, how: keyof typeof SERVE): Promise<Measure> => {
  const port = await freePort()
  const { args, note } = SERVE[how]
  const started = performance.now()
  const p = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'silent', AUTH_JWT_SECRET: 'bench-secret-of-at-least-32-bytes' },
    stdio: ['ignore', 'ignore', 'ignore'],
  })
  try {
    for (let i = 0; i < 6000; i += 1) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false)
      if (ok) break
      await new Promise((r) => setTimeout(r, 10))
    }
    const seconds = (performance.now() - started) / 1000
    const status = (await import('node:fs')).readFileSync(`/proc/${p.pid}/status`, 'utf8')
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
    return { seconds, events, maxRssMb: Math.round(hwm / 1024), note }
  } finally {
    p.kill('SIGTERM')
    await once(p, 'exit')
  }
}

const main = async () => {
  mkdirSync(dirname(dataDir), { recursive: true })
  mkdirSync(join(here, '.cache'), { recursive: true })
  writeFileSync(join(here, '.cache', '.gitignore'), '*\n')
  const results: Record<string, Measure> = {}
  const eventsDb = join(dataDir, 'events.db')
  const seeded = existsSync(eventsDb) && (() => {
    const db = new Database(eventsDb, { readonly: true })
    const n = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n
    db.close()
    return n >= STACKS * 1000
  })()
  if (!seeded) {
    rmSync(dataDir, { recursive: true, force: true })
    process.stderr.write(`seeding ${dataDir} ...\n`)
    results.seed = await child('seed')
  } else process.stderr.write(`reusing the seeded history in ${dataDir}\n`)
  // The ratio's two sides, in turn, ROUNDS times each: one baseline of a few seconds moved by a
  // third from run to run here (other tenants of the CPUs), so each side is the median of its runs.
  const runs: Record<'baseline' | 'rebuild', Measure[]> = { baseline: [], rebuild: [] }
  for (let round = 1; round <= ROUNDS; round += 1)
    for (const task of ['baseline', 'rebuild'] as const) {
      process.stderr.write(`${task} (${round} of ${ROUNDS}) ...\n`)
      runs[task].push(await child(task))
    }
  for (const task of ['baseline', 'rebuild'] as const) results[task] = median(runs[task])
  // rebuild_esdb_path first: it builds audit.db, which write_floor_audit and audit_queries read.
  for (const task of ['rebuild_one_thread', 'rebuild_esdb_path', 'write_floor_read_models', 'write_floor_audit', 'audit_queries', 'audit'] as const) {
    process.stderr.write(`${task} ...\n`)
    results[task] = await child(task)
  }
  // How two CPUs scale here for this kind of work: the same baseline in two processes at once.
  // The parallel rebuild cannot scale better than that.
  process.stderr.write('baseline, two at once ...\n')
  results.baseline_two_at_once = await atOnce(['baseline', 'baseline'], () => 'the baseline in two processes at the same time (the slower one); each reads all events')
  process.stderr.write('cold start ...\n')
  // The serve that `npm start` runs: compiled first (what `npm run build` does for the service).
  compileService()
  // Once through tsx first: a serve after a seed or a rebuild may have a reactor to catch up.
  results.cold_start_tsx = await coldStart(results.baseline?.events ?? 0, 'tsx')
  results.cold_start = await coldStart(results.baseline?.events ?? 0, 'compiled')
  process.stderr.write('the command line: --help, and a whole rebuild ...\n')
  const help = await cliHelp(root)
  results.cli_help = { ...help, events: 0, note: `spawn \`node bin/management-tokens.js --help\` to exit, median of ${help.runs.length} runs` }
  const rebuiltByCli = await cliRebuild(root, dataDir)
  results.cli_rebuild = { ...rebuiltByCli, events: results.baseline?.events ?? 0, note: 'spawn `node bin/management-tokens.js rebuild` to exit: start-up, rebuild (both threads), exit' }

  const rate = (m: Measure) => Math.round(m.events / m.seconds)
  const baseline = results.baseline as Measure
  const rebuilt = results.rebuild as Measure
  const ratio = rate(rebuilt) / rate(baseline)
  const swapMs = rebuilt.swapMs ?? 0
  // Each round's own ratio, for the spread (the target is the medians').
  const perRound = runs.rebuild.map((r, i) => Number(((runs.baseline[i] as Measure).seconds / r.seconds).toFixed(3)))
  const targets = {
    rebuild_events_per_s: { target: '>= 200000', value: rate(rebuilt), met: rate(rebuilt) >= 200_000 },
    rebuild_vs_baseline: { target: '>= 0.5', value: Number(ratio.toFixed(3)), met: ratio >= 0.5 },
    swap_lock_ms: { target: '< 100', value: swapMs, met: swapMs < 100 },
    cold_start_s: { target: '<= 2', value: Number((results.cold_start as Measure).seconds.toFixed(3)), met: (results.cold_start as Measure).seconds <= 2 },
    cli_help_ms: { target: '< 150', value: Math.round((results.cli_help as Measure).seconds * 1000), met: (results.cli_help as Measure).seconds < 0.15 },
    cli_rebuild_vs_baseline: {
      target: '>= 0.5',
      value: Number((baseline.seconds / (results.cli_rebuild as Measure).seconds).toFixed(3)),
      met: baseline.seconds / (results.cli_rebuild as Measure).seconds >= 0.5,
    },
  }
  const floor = (results.write_floor_read_models as Measure).seconds
  const bounds = {
    // What the rebuild must write at least (read-models.db's final rows and indexes), in baselines.
    write_floor_seconds_vs_baseline: Number((floor / baseline.seconds).toFixed(3)),
    // What the audit log would add as a projection: audit.db's final rows inserted and indexed.
    audit_projection_write_floor_vs_baseline: Number(((results.write_floor_audit as Measure).seconds / baseline.seconds).toFixed(3)),
    // The EventStoreDB path's rebuild (every projection, audit.db too, on one thread) as a ratio.
    esdb_path_rebuild_vs_baseline: Number((baseline.seconds / (results.rebuild_esdb_path as Measure).seconds).toFixed(3)),
    parallel_vs_one_thread: Number(((results.rebuild_one_thread as Measure).seconds / rebuilt.seconds).toFixed(3)),
    // 2.0 if two processes do twice the work in the same time; what the machine's two CPUs give.
    two_cpus_throughput_vs_one: Number(((2 * baseline.seconds) / (results.baseline_two_at_once as Measure).seconds).toFixed(3)),
  }
  const report = {
    date: new Date().toISOString(),
    machine: { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model, loadavg_1m_at_end: Number(loadavg()[0]?.toFixed(2)) },
    seeded: { reused: seeded, dir: dataDir, args: SEED },
    results: Object.fromEntries(
      Object.entries(results).map(([k, m]) => [k, { ...m, seconds: Number(m.seconds.toFixed(3)), events_per_s: rate(m) }]),
    ),
    targets,
    rebuild_vs_baseline_per_round: perRound,
    bounds,
  }
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results', STACKS === 1000 ? 'ops.json' : `ops-${STACKS}.json`), `${JSON.stringify(report, null, 2)}\n`)
  const rows = Object.entries(results).map(([k, m]) => `| ${k.padEnd(23)} | ${String(m.events).padStart(9)} | ${m.seconds.toFixed(2).padStart(8)} | ${String(rate(m)).padStart(9)} | ${String(m.maxRssMb).padStart(8)} | ${m.note ?? ''}`)
  process.stdout.write(
    [
      `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(2)}`,
      '| task                    |    events |        s |  events/s | max RSS MB | note',
      '|-------------------------|-----------|----------|-----------|----------|-----',
      ...rows,
      '',
      ...Object.entries(targets).map(([k, v]) => `${k}: ${v.value} (target ${v.target}) ${v.met ? 'met' : 'MISSED'}`),
      `rebuild / baseline in each round: ${perRound.join(', ')} (medians of ${ROUNDS} runs each above)`,
      `write floor of read-models.db: ${bounds.write_floor_seconds_vs_baseline} x the baseline's seconds; audit.db's, were the audit log a projection here: ${bounds.audit_projection_write_floor_vs_baseline} x`,
      `the EventStoreDB path's rebuild (audit.db too, one thread) / baseline: ${bounds.esdb_path_rebuild_vs_baseline}`,
      `audit queries (${(results.audit_queries as Measure).note})`,
      `parallel rebuild: ${bounds.parallel_vs_one_thread} x as fast as the same rebuild on one thread`,
      `two CPUs at once: ${bounds.two_cpus_throughput_vs_one} x the baseline throughput of one (2.0 would be perfect scaling)`,
      '',
    ].join('\n'),
  )
}

const [mode, arg, ...rest] = process.argv.slice(2)
if (mode === 'child') {
  const m = await (tasks[arg as string] as () => Promise<Measure>)()
  process.stdout.write(JSON.stringify(m))
} else if (mode === 'cli') {
  const { run } = await import('../src/cli/main.js')
  const code = await run([arg as string, ...rest])
  if (code !== 0) process.exitCode = code
} else await main()
