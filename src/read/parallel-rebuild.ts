import { setImmediate as nextTick } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import { STREAM_BUCKETS, type EmbeddedLog, type EventStore } from '../eventstore/port.js'
import { PAGE_SIZE } from './log.js'
import type { Projection } from './projection.js'
import { abandonFresh, finishFresh, startFresh } from './fresh.js'
import type { RebuildResult } from './rebuild.js'
import { flushAll, KEEP_ROWS, type BuildOptions } from './replay.js'
import { errorOf, Inbox, projectShare, type Failure } from './share.js'

/** Main thread to worker. */
export type ToWorker = { readonly kind: 'abort' }

/** Worker to main thread. */
export type FromWorker =
  | { readonly kind: 'tokens'; readonly events: number; readonly tables: ReadonlyArray<{ table: string; rows: unknown[][] }> }
  | { readonly kind: 'failed'; readonly failure: Failure }

/** What the worker is started with. */
export interface WorkerInput {
  readonly eventsFile: string
  /** Its share: the streams whose bucket is in [from, STREAM_BUCKETS - 1]. */
  readonly from: number
  readonly upTo: number
  readonly window: number
  /** The module it finds the projections in (ParallelOptions.catalog). */
  readonly catalog: string
  /** The read-models.db projections it projects for its share (into memory, sent back at the end). */
  readonly projections: readonly string[]
}

export interface ParallelOptions extends BuildOptions {
  /** The main thread's share of the streams (0 to 1). */
  readonly share?: number
  /**
   * The URL of a module whose export `PROJECTIONS` lists the projections to rebuild: a worker
   * thread imports it to find them by name (functions do not cross threads). Without it, or for
   * projections it does not list, the rebuild runs on one thread.
   */
  readonly catalog?: string
}

/** An event store whose rows another thread can read from its file. */
export type SharedLog = EventStore & { readonly embedded: EmbeddedLog & { readonly file: string } }

/**
 * The main thread's share. The worker projects its share into memory and sends the rows back,
 * which the main thread then inserts; even so a larger share for the main thread was slower
 * (docs/benchmarks.md).
 */
export const MAIN_SHARE = 0.5

/**
 * The worker's young generation, at most, in MB. It decodes a share of the log, nearly all of it
 * short-lived garbage, which a larger young generation collects more cheaply, for a little more
 * peak memory (docs/benchmarks.md).
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

/**
 * Rebuilds read-models.db's `projections` (on `db`, a connection to that file alone) on both
 * cores, from the embedded store. The log is split by stream (every read-model row depends on the
 * events of its own stream only) into two shares that the threads read, decode and project apart:
 *
 * - the worker projects its share into an in-memory database and sends its rows back at the end;
 * - the main thread projects its share into read-models.db's fresh tables, inserts the worker's
 *   rows, then indexes, catches up and swaps in one IMMEDIATE transaction (finishFresh), with
 *   the checkpoints.
 *
 * A failure on either side abandons the fresh tables; the live ones were never touched.
 */
export const rebuildInParallel = async (
  db: Database.Database,
  store: SharedLog,
  projections: readonly Projection[],
  catalog: string,
  options: ParallelOptions = {},
): Promise<RebuildResult> => {
  const log = store.embedded
  const upTo = log.headPosition()
  const window = options.pageSize ?? PAGE_SIZE
  const split = Math.round(STREAM_BUCKETS * (options.share ?? MAIN_SHARE))
  const inbox = new Inbox<FromWorker>()
  const worker = startWorker({ eventsFile: log.file, from: split, upTo, window, catalog, projections: projections.map((p) => p.name) })
  worker.on('message', (m: FromWorker) => (m.kind === 'failed' ? inbox.fail(errorOf(m.failure)) : inbox.put(m)))
  worker.on('error', (e) => inbox.fail(e))
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      inbox.fail(new Error(`the rebuild's worker stopped (exit code ${code})`))
      resolve()
    }),
  )
  const fresh = startFresh(db, projections)
  try {
    const project = projectShare(db, fresh.appliers, KEEP_ROWS)
    let events = 0
    for (let lo = 0; lo < upTo; lo += window) {
      const hi = Math.min(lo + window, upTo)
      const rows = log.readRawShare(lo, hi, 0, split - 1)
      project(rows)
      events += rows.length
      options.onProgress?.(events, hi)
      await nextTick()
    }
    const theirs = await inbox.next('tokens')
    flushAll(db, fresh.appliers)
    db.transaction(() => {
      for (const { table, rows } of theirs.tables) {
        if (rows.length === 0) continue
        const insert = db.prepare(`INSERT INTO ${fresh.table(table)} VALUES (${(rows[0] as unknown[]).map(() => '?').join(', ')})`)
        for (const row of rows) insert.run(row)
      }
    })()
    const tail = await finishFresh(db, store, projections, fresh, upTo, options)
    return { projections: projections.map((p) => p.name), events: events + theirs.events + tail.events, position: tail.position, swapMs: tail.swapMs }
  } catch (e) {
    abandonFresh(db, projections, fresh)
    throw e
  } finally {
    worker.postMessage({ kind: 'abort' } satisfies ToWorker) // ignored once the worker is done
    await exited
  }
}
