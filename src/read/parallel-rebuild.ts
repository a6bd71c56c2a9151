import { setImmediate as nextTick } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import type { Title } from '../../projections/audit-log.js'
import { STREAM_BUCKETS, type SqliteEventStore } from '../eventstore/sqlite.js'
import { PAGE_SIZE } from './log.js'
import type { Projection } from './projection.js'
import { abandonFresh, finishFresh, flushAll, KEEP_ROWS, startFresh, type Appliers, type BuildOptions, type RebuildResult } from './rebuild.js'
import { errorOf, Inbox, projectShare, type Failure } from './share.js'

/** Main thread to worker. */
export type ToWorker =
  | { readonly kind: 'rows'; readonly flat: unknown[] }
  | { readonly kind: 'titles'; readonly flat: string[] }
  | { readonly kind: 'abort' }

/** Worker to main thread. */
export type FromWorker =
  | { readonly kind: 'ack' }
  | { readonly kind: 'tokens'; readonly events: number; readonly tables: ReadonlyArray<{ table: string; rows: unknown[][] }> }
  | { readonly kind: 'done'; readonly events: number; readonly position: number; readonly swapMs: number }
  | { readonly kind: 'failed'; readonly failure: Failure }

/** What the worker is started with. */
export interface WorkerInput {
  readonly eventsFile: string
  readonly auditFile: string
  /** Its share: the streams whose bucket is in [from, STREAM_BUCKETS - 1]. */
  readonly from: number
  readonly upTo: number
  readonly window: number
  /** The read-models.db projections it projects for its share (into memory, sent back at the end). */
  readonly projections: readonly string[]
  readonly pageSize?: number
}

export interface ParallelOptions extends BuildOptions {
  /** The main thread's share of the streams (0 to 1): the worker also writes every audit row. */
  readonly share?: number
}

/**
 * The main thread's share. Measured at 1M events (bench:ops' rebuild, timing each step of both
 * loops): at 0.72 each thread waits for the other 1-2 s in all, at 0.76 the worker (which also
 * inserts every audit row, 16 to a statement, and builds the audit indexes) waits 4-5 s.
 */
export const MAIN_SHARE = 0.72
/** Windows of audit rows on their way to the worker, at most, before the main thread waits. */
const IN_FLIGHT = 4

/**
 * The worker's young generation, at most, in MB. It decodes a share of the log and allocates a
 * row array per audit row, nearly all short-lived: with V8's default a rebuild of 1M events took
 * 8.6 s (bench:ops' rebuild, twice), with 96 MB 8.0 to 8.2 s, with 192 MB 7.5 to 7.7 s and with
 * 384 MB no less, for about 100 MB more peak memory.
 */
const WORKER_YOUNG_MB = 192

const startWorker = (input: WorkerInput): Worker => {
  const url = new URL(`./rebuild-worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url)
  const options = { workerData: input, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_MB } }
  /* c8 ignore next */
  if (url.pathname.endsWith('.js')) return new Worker(url, options)
  // Run from the sources (tsx, tests): the worker registers the TypeScript loader itself.
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}) })`, { ...options, eval: true })
}

const EMPTY: Appliers = { byType: new Map(), all: [] }

/**
 * Rebuilds read-models.db's `projections` (on `db`, a connection to that file alone) and the
 * audit log (in `auditFile`) at once, on both cores, from the embedded store. The log is split by stream (every read model row depends on the events of its
 * own stream only) into two shares that the threads read, decode and project apart, in the same
 * windows of positions:
 *
 * - the main thread projects its share into read-models.db's fresh tables and computes its
 *   share's audit rows, which it sends to the worker, one flat array per window;
 * - the worker projects its share into memory, computes its audit rows, and inserts both shares'
 *   audit rows into audit.db's fresh tables in position order (appends), then sends its share of
 *   read-models.db's rows back; each side then indexes, catches up and swaps its own file in its
 *   own IMMEDIATE transaction (finishFresh), with its checkpoints.
 *
 * A failure on either side abandons the other side's fresh tables too if it has not swapped yet.
 */
export const rebuildInParallel = async (
  db: Database.Database,
  auditFile: string,
  store: SqliteEventStore,
  projections: readonly Projection[],
  options: ParallelOptions = {},
): Promise<RebuildResult> => {
  const local = projections.filter((p) => p.file === 'read-models')
  const upTo = store.headPosition()
  // Both threads step through the log in the same windows of positions, a page's worth each.
  const window = options.pageSize ?? PAGE_SIZE
  const split = Math.round(STREAM_BUCKETS * (options.share ?? MAIN_SHARE))
  const inbox = new Inbox<FromWorker>()
  const worker = startWorker({
    eventsFile: store.file,
    auditFile,
    from: split,
    upTo,
    window,
    projections: local.map((p) => p.name),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
  })
  const post = (m: ToWorker) => worker.postMessage(m)
  worker.on('message', (m: FromWorker) => (m.kind === 'failed' ? inbox.fail(errorOf(m.failure)) : inbox.put(m)))
  worker.on('error', (e) => inbox.fail(e))
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      inbox.fail(new Error(`the rebuild's worker stopped (exit code ${code})`))
      resolve()
    }),
  )
  const fresh = local.length > 0 ? startFresh(db, local) : undefined
  let swapped = false
  try {
    const titles = new Map<string, Title>()
    const project = projectShare(db, fresh?.appliers ?? EMPTY, titles, KEEP_ROWS)
    let events = 0
    let inFlight = 0
    for (let lo = 0; lo < upTo; lo += window) {
      const hi = Math.min(lo + window, upTo)
      const rows = store.readRawShare(lo, hi, 0, split - 1)
      post({ kind: 'rows', flat: project(rows) })
      events += rows.length
      inFlight += 1
      for (; inFlight > IN_FLIGHT; inFlight -= 1) await inbox.next('ack')
      options.onProgress?.(events, hi)
      await nextTick()
    }
    post({ kind: 'titles', flat: [...titles].flatMap(([uid, [title, detail]]) => [uid, title, detail]) })
    const theirs = await inbox.next('tokens')
    let tail = { events: 0, position: upTo, swapMs: 0 }
    if (fresh) {
      flushAll(db, fresh.appliers)
      db.transaction(() => {
        for (const { table, rows } of theirs.tables) {
          if (rows.length === 0) continue
          const insert = db.prepare(`INSERT INTO ${fresh.table(table)} VALUES (${(rows[0] as unknown[]).map(() => '?').join(', ')})`)
          for (const row of rows) insert.run(row)
        }
      })()
      tail = await finishFresh(db, store, local, fresh, upTo, options)
      swapped = true
    }
    const audited = await inbox.next('done')
    return {
      projections: projections.map((p) => p.name),
      events: events + theirs.events + Math.max(tail.events, audited.events),
      position: Math.max(tail.position, audited.position),
      swapMs: Math.max(tail.swapMs, audited.swapMs),
    }
  } catch (e) {
    if (fresh && !swapped) abandonFresh(db, local, fresh)
    throw e
  } finally {
    post({ kind: 'abort' }) // ignored once the worker is done
    await exited
  }
}
