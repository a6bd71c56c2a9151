import type Database from 'better-sqlite3'
import type { EventStore } from '../eventstore/port.js'
import { attachedFile, byFile, openReadModelFile, schemaOf, type ReadModelFile } from './files.js'
import { rebuildInParallel, type ParallelOptions, type SharedLog } from './parallel-rebuild.js'
import type { Projection } from './projection.js'
import { liveHead } from './fresh.js'
import { rebuild, type RebuildResult } from './rebuild.js'
import type { BuildOptions } from './replay.js'
import { verify, type VerifyResult } from './verify.js'

/**
 * Runs `work` on a connection of its own to the file that `projections` live in (the connection
 * itself when nothing is attached: an in-memory database holds every read model). Never on the
 * service's connection with audit.db attached: its IMMEDIATE transactions (a swap) would take
 * the write lock of every attached file.
 */
export const onFile = async <T>(
  db: Database.Database,
  projections: readonly Projection[],
  work: (conn: Database.Database) => Promise<T> | T,
): Promise<T> => {
  const first = projections[0] as Projection
  const path = attachedFile(db, schemaOf(db, first))
  if (path === undefined || attachedFile(db, 'audit') === undefined) return work(db)
  const conn = openReadModelFile(path, first.file)
  try {
    return await work(conn)
  } finally {
    conn.close()
  }
}

/** The files that `projections` live in, each with its projections, in the order given. */
export const groups = (projections: readonly Projection[]): Array<[ReadModelFile, Projection[]]> => [...byFile(projections)]

/** The highest live checkpoint of `projections`, over their files: a progress bar's total. */
export const liveHeadOfFiles = async (db: Database.Database, projections: readonly Projection[]): Promise<number> => {
  let head = 0
  for (const [, ps] of groups(projections)) head = Math.max(head, await onFile(db, ps, (conn) => liveHead(conn, ps)))
  return head
}

/** Several files' results as one: every projection, the furthest position, the longest lock. */
export const mergeResults = (results: readonly RebuildResult[]): RebuildResult => ({
  projections: results.flatMap((r) => r.projections),
  events: Math.max(0, ...results.map((r) => r.events)),
  position: Math.max(0, ...results.map((r) => r.position)),
  swapMs: Math.max(0, ...results.map((r) => r.swapMs)),
})

/**
 * Rebuilds `projections` file by file, one after the other, each with its own swap: the path for
 * an event store that a worker thread cannot share (EventStoreDB), and for one file alone.
 */
export const rebuildEachFile = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  options: BuildOptions = {},
): Promise<RebuildResult> => {
  const results: RebuildResult[] = []
  for (const [, ps] of groups(projections)) results.push(await onFile(db, ps, (conn) => rebuild(conn, store, ps, options)))
  return mergeResults(results)
}

/** `rebuild --verify` over the files that `projections` live in: every difference in each of them. */
export const verifyFiles = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  options: BuildOptions = {},
): Promise<VerifyResult> => {
  const differences: VerifyResult['differences'] = []
  const positions = new Map<string, number>()
  let events = 0
  for (const [, ps] of groups(projections)) {
    const r = await onFile(db, ps, (conn) => verify(conn, store, ps, options))
    differences.push(...r.differences)
    for (const [name, at] of r.positions) positions.set(name, at)
    events = Math.max(events, r.events)
  }
  return { differences, events, positions }
}

/** A store whose file a worker thread can open too. */
const shared = (store: EventStore): store is SharedLog => store.embedded?.file !== undefined

/**
 * Rebuilds `projections` into their files: on both cores (rebuildInParallel) when they all live in
 * read-models.db, `options.catalog` lists them, and the embedded store is a file a worker thread
 * can open too; otherwise file by file (rebuildEachFile).
 */
export const rebuildFiles = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  options: ParallelOptions = {},
): Promise<RebuildResult> => {
  const { catalog } = options
  const parallel =
    catalog !== undefined &&
    shared(store) &&
    projections.length > 0 &&
    projections.every((p) => p.file === 'read-models') &&
    (await listed(catalog, projections))
  if (!parallel) return rebuildEachFile(db, store, projections, options)
  return onFile(db, projections, (conn) => rebuildInParallel(conn, store, projections, catalog, options))
}

/** The worker projects by name from the catalog's PROJECTIONS: only those, the very same, can be rebuilt there. */
const listed = async (catalog: string, projections: readonly Projection[]): Promise<boolean> => {
  const { PROJECTIONS } = (await import(catalog)) as { PROJECTIONS?: readonly Projection[] }
  return projections.every((p) => PROJECTIONS?.includes(p) === true)
}
