/**
 * `npm run bench:ops`: operations on a seeded history of ~1,000,000 events on the embedded store.
 * Each measurement runs in its own child process (this file with `child <task>`), so its peak
 * memory (max RSS) is its own. The seeded data dir is kept in bench/.cache (ignored by git) and
 * reused when present; delete it to seed again. Results: bench/results/ops.json and a table.
 */
import { spawn } from 'node:child_process'
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import type { AUDIT_KIND, UPDATED_JSON } from '../projections/audit-log.js'
import { compileService } from './compile.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const SEED = ['--stacks', '1000', '--tokens-per-stack', '20', '--changes', '47']
const dataDir = process.env.BENCH_DATA_DIR ?? join(here, '.cache', `ops-${SEED.join('').replace(/-+/g, '-')}`)

interface Measure {
  seconds: number
  events: number
  maxRssMb: number
  swapMs?: number
  note?: string
  /** Every run's seconds, when the measure is a median. */
  runs?: number[]
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

const rebuildTask = async (which: 'all' | 'audit' | 'tokens', how: 'parallel' | 'sequential' = 'parallel'): Promise<Measure> => {
  const { SqliteEventStore } = await import('../src/eventstore/sqlite.js')
  const { openReadModels } = await import('../src/service.js')
  const { rebuildEachFile, rebuildFiles } = await import('../src/read/rebuild-files.js')
  const { PROJECTIONS } = await import('../projections/index.js')
  const projections = PROJECTIONS.filter((p) => which === 'all' || (which === 'audit') === (p.file === 'audit'))
  const store = new SqliteEventStore(join(dataDir, 'events.db'))
  const db = openReadModels(dataDir)
  const started = performance.now()
  const r = await (how === 'parallel' ? rebuildFiles : rebuildEachFile)(db, store, projections)
  const seconds = (performance.now() - started) / 1000
  db.close()
  await store.close()
  return { seconds, events: r.events, maxRssMb: maxRssMb(), swapMs: Math.round(r.swapMs), note: `swap held a write lock ${Math.round(r.swapMs)} ms at most` }
}

/** An empty read-model file in its own folder of the data dir, with the service's settings, then a rebuild's. */
const scratchFile = async (folder: string, file: 'read-models' | 'audit'): Promise<{ dir: string; db: Database.Database }> => {
  const { BULK_LOAD } = await import('../src/read/rebuild.js')
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
  const { identity } = await import('../src/read/projection.js')
  const { PAGE_SIZE } = await import('../src/read/log.js')
  const { BatchedInsert } = await import('../src/read/batched-insert.js')
  const { READ_MODEL_FILES } = await import('../src/read/files.js')
  const projections = PROJECTIONS.filter((p) => p.file === file)
  const live = new Database(join(dataDir, READ_MODEL_FILES[file]), { readonly: true })
  const rows = new Map(projections.flatMap((p) => p.tables.map((t) => [t, live.prepare(`SELECT * FROM ${t}`).raw().all() as unknown[][]] as const)))
  live.close()
  const { dir, db } = await scratchFile('write-floor', file)
  const started = performance.now()
  let written = 0
  for (const p of projections) {
    p.create(db, identity)
    for (const t of p.tables) {
      const all = rows.get(t) ?? []
      if (all.length === 0) continue
      // As the rebuild's worker inserts audit rows: 16 to a statement, the rest one by one.
      const insert = new BatchedInsert(db, `INSERT INTO ${t}`, (all[0] as unknown[]).length)
      const page = db.transaction((from: number) => {
        for (let i = from; i < Math.min(all.length, from + PAGE_SIZE); i++) insert.add(all[i] as unknown[], 0)
        insert.flush()
      })
      for (let i = 0; i < all.length; i += PAGE_SIZE) page(i)
      written += all.length
    }
    db.transaction(() => p.index(db, identity))()
  }
  const seconds = (performance.now() - started) / 1000
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return { seconds, events: written, maxRssMb: maxRssMb(), note: `${written} rows of ${READ_MODEL_FILES[file]} (not events): inserts and index builds only` }
}

/** A SQL `CASE type ...` of a string per event type (quotes doubled), `otherwise` for the rest. */
const caseOfType = (values: ReadonlyArray<readonly [string, string]>, otherwise: string) =>
  `CASE type ${values.map(([type, v]) => `WHEN '${type}' THEN '${v.replaceAll("'", "''")}'`).join(' ')} ELSE ${otherwise} END`

/**
 * audit_log's rows as the audit-log projection writes them, computed and inserted by SQLite alone
 * from events.db (attached): one `INSERT ... SELECT` with SQLite's JSON operators, a token's title
 * (its latest name before the event) and what a rename changed found through a temporary table of
 * the naming events indexed by subject, then the projection's indexes. No row crosses into
 * JavaScript. What a rebuild's audit.db would cost done this way: timed, then compared row for row
 * (untimed) with the live table of the seeded data dir, which the projection wrote. The module,
 * event_type and changed fields come from the projection's own tables (AUDIT_KIND, UPDATED_JSON).
 */
const auditBySqlText = (kinds: typeof AUDIT_KIND, updated: typeof UPDATED_JSON) => `
  CREATE TEMP TABLE names AS SELECT data->>'token_uid' AS subject, position, data->>'name' AS name, data->>'description' AS description
    FROM log.events WHERE type IN ('TokenGenerated', 'TokenRenamed') ORDER BY position;
  CREATE INDEX temp.names_by_subject ON names (subject, position);
  INSERT INTO audit_log
  SELECT position, id, data->>'api_key', metadata->>'occurred_at', metadata->>'actor',
    ${caseOfType(Object.entries(kinds).map(([type, k]) => [type, k.module]), 'NULL')},
    ${caseOfType(Object.entries(kinds).map(([type, k]) => [type, k.event_type]), 'NULL')},
    type, metadata->>'request_id', metadata->>'remote_addr', subject,
    CASE WHEN type IN ('MemberShared', 'MemberUnshared', 'OwnershipTransferred') THEN subject
      WHEN type IN ('StackCreated', 'TokenGenerated', 'TokenRenamed') THEN data->>'name'
      ELSE coalesce((SELECT name FROM names n WHERE n.subject = x.subject AND n.position < x.position ORDER BY n.position DESC LIMIT 1), '') END,
    metadata->>'actor_email',
    CASE WHEN type <> 'TokenRenamed' THEN ${caseOfType([...updated], 'NULL')} ELSE (
        SELECT CASE
          WHEN coalesce(p.name, '') <> x.data->>'name' AND coalesce(p.description, '') <> x.data->>'description' THEN '["name","description"]'
          WHEN coalesce(p.name, '') <> x.data->>'name' THEN '["name"]'
          WHEN coalesce(p.description, '') <> x.data->>'description' THEN '["description"]'
          ELSE '[]' END
        FROM (SELECT 1) LEFT JOIN (SELECT name, description FROM names n WHERE n.subject = x.subject AND n.position < x.position ORDER BY n.position DESC LIMIT 1) p)
      END
  FROM (SELECT *, CASE type WHEN 'StackCreated' THEN data->>'api_key' WHEN 'MemberShared' THEN data->>'email' WHEN 'MemberUnshared' THEN data->>'email'
      WHEN 'OwnershipTransferred' THEN data->>'to_email' ELSE data->>'token_uid' END AS subject FROM log.events) x
  ORDER BY position`

const auditBySql = async (): Promise<Measure> => {
  const { AUDIT_KIND, UPDATED_JSON, auditLog } = await import('../projections/audit-log.js')
  const { identity } = await import('../src/read/projection.js')
  const { dir, db } = await scratchFile('audit-by-sql', 'audit')
  db.prepare('ATTACH ? AS log').run(join(dataDir, 'events.db'))
  auditLog.create(db, identity)
  const started = performance.now()
  db.exec(auditBySqlText(AUDIT_KIND, UPDATED_JSON))
  db.transaction(() => auditLog.index(db, identity))()
  const seconds = (performance.now() - started) / 1000
  db.prepare('ATTACH ? AS live').run(join(dataDir, 'audit.db'))
  const count = (sql: string) => db.prepare(sql).pluck().get() as number
  const rows = count('SELECT count(*) FROM audit_log')
  const differ = count('SELECT count(*) FROM (SELECT * FROM audit_log EXCEPT SELECT * FROM live.audit_log)') + Math.abs(rows - count('SELECT count(*) FROM live.audit_log'))
  db.close()
  rmSync(dir, { recursive: true, force: true })
  return { seconds, events: rows, maxRssMb: maxRssMb(), note: `${rows} rows of audit_log computed and inserted by SQLite alone, then indexed; ${differ} differ from the projection's` }
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
  /** Every projection, both files at once (the parallel rebuild): what the target is about. */
  rebuild: () => rebuildTask('all'),
  /** The same on one thread, file after file: what the parallel rebuild is compared with. */
  rebuild_one_thread: () => rebuildTask('all', 'sequential'),
  /** The audit log alone (audit.db; still split between the two threads). */
  rebuild_audit: () => rebuildTask('audit'),
  /** read-models.db alone (the three token projections), on one thread. */
  rebuild_tokens: () => rebuildTask('tokens'),
  /**
   * The least a rebuild must write, per file, for comparison: the final rows of its read models
   * (read beforehand from the live tables, untimed) inserted into empty tables, a page per
   * transaction as a rebuild does, then their query indexes built. No event is read, decoded or
   * projected; same pragmas and page size as a rebuild. The two files have a writer each.
   */
  write_floor_read_models: () => writeFloor('read-models'),
  write_floor_audit: () => writeFloor('audit'),
  audit_by_sql: auditBySql,
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

const freePort = async (): Promise<number> => {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as { port: number }
  s.close()
  return port
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
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'silent', AUTH_JWT_SECRET: 'bench' },
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
    return n >= 1_000_000
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
  for (const task of ['rebuild_one_thread', 'rebuild_audit', 'rebuild_tokens', 'write_floor_read_models', 'write_floor_audit', 'audit_by_sql', 'audit'] as const) {
    process.stderr.write(`${task} ...\n`)
    results[task] = await child(task)
  }
  // How two CPUs scale here for this kind of work: the same baseline in two processes at once.
  // The parallel rebuild cannot scale better than that.
  process.stderr.write('baseline, two at once ...\n')
  results.baseline_two_at_once = await atOnce(['baseline', 'baseline'], () => 'the baseline in two processes at the same time (the slower one); each reads all events')
  // Another split of the rebuild between the two CPUs, each side as it would run: audit.db
  // computed by SQLite on one, read-models.db's projections (reading and decoding every event)
  // on the other, at the same time, in two processes (the slower one's seconds).
  process.stderr.write('audit.db by SQLite beside read-models.db ...\n')
  results.audit_by_sql_beside_read_models = await atOnce(
    ['audit_by_sql', 'rebuild_tokens'],
    (ms) => `audit_by_sql and rebuild_tokens at the same time (the slower one): ${ms.map((m) => m.seconds.toFixed(2)).join(' and ')} s`,
  )
  process.stderr.write('cold start ...\n')
  // The serve that `npm start` runs: compiled first (what `npm run build` does for the service).
  compileService()
  // Once through tsx first: a serve after a seed or a rebuild may have a reactor to catch up.
  results.cold_start_tsx = await coldStart(results.baseline?.events ?? 0, 'tsx')
  results.cold_start = await coldStart(results.baseline?.events ?? 0, 'compiled')

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
  }
  // What the write floor alone allows: a rebuild writes at least those rows and indexes, one
  // writer per file (SQLite), the two files at once, so it cannot be faster than the slower
  // file's floor even if reading, decoding and projecting cost nothing or ran on another core.
  const floor = Math.max((results.write_floor_read_models as Measure).seconds, (results.write_floor_audit as Measure).seconds)
  const bounds = {
    rebuild_events_per_s_at_most: Math.round(rebuilt.events / floor),
    write_floor_seconds_vs_baseline: Number((floor / baseline.seconds).toFixed(3)),
    // audit.db's rows computed and put in by SQLite itself, in baselines.
    audit_by_sql_seconds_vs_baseline: Number(((results.audit_by_sql as Measure).seconds / baseline.seconds).toFixed(3)),
    // The rebuild / baseline ratio of that split (audit.db by SQLite beside read-models.db), measured.
    split_by_file_vs_baseline: Number((baseline.seconds / (results.audit_by_sql_beside_read_models as Measure).seconds).toFixed(3)),
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
  writeFileSync(join(here, 'results', 'ops.json'), `${JSON.stringify(report, null, 2)}\n`)
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
      `write floor alone (the slower file's): a rebuild of ${rebuilt.events} events can reach at most ${bounds.rebuild_events_per_s_at_most} events/s; it takes ${bounds.write_floor_seconds_vs_baseline} x the baseline's seconds`,
      `audit.db's rows computed and inserted by SQLite itself from events.db, no JavaScript: ${bounds.audit_by_sql_seconds_vs_baseline} x the baseline's seconds`,
      `that beside read-models.db's projections, one CPU each: rebuild / baseline ${bounds.split_by_file_vs_baseline} (measured)`,
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
