import type Database from 'better-sqlite3'
import type { EventStore } from '../eventstore/port.js'
import { abandonFresh, finishFresh, startFresh } from './fresh.js'
import type { Projection } from './projection.js'
import { buildTables, KEEP_ROWS, type BuildOptions } from './replay.js'

export interface RebuildResult {
  readonly projections: readonly string[]
  readonly events: number
  readonly position: number
  /** How long the swap held the write lock, in ms. */
  readonly swapMs: number
}

/**
 * Rebuilds `projections` (all in the `main` file of `db`) from position 0 into fresh tables, then
 * swaps them in atomically while other connections (a running service's projector and queries)
 * keep working on the live ones:
 *
 * 1. build `<table>__rb<tag>` from the log, page by page (large transactions, synchronous=OFF,
 *    rows kept across pages: these tables are thrown away if anything fails);
 * 2. finishFresh: their query indexes, once; the catch-up; the swap (a few milliseconds of write
 *    lock, each checkpoint set to the last position applied); the old tables dropped.
 *
 * A live projector then goes on from its own in-memory checkpoint, which is at or below the new
 * one: it re-applies a few events, which is harmless because every apply is idempotent. Its
 * prepared statements re-prepare against the new tables (SQLite does that after a schema change).
 */
export const rebuild = async (
  db: Database.Database,
  store: EventStore,
  projections: readonly Projection[],
  options: BuildOptions = {},
): Promise<RebuildResult> => {
  const fresh = startFresh(db, projections)
  try {
    const built = await buildTables(db, store, fresh.appliers, { after: 0 }, { keep: KEEP_ROWS, ...options })
    const done = await finishFresh(db, store, projections, fresh, built.position, options)
    return { projections: projections.map((p) => p.name), events: built.events + done.events, position: done.position, swapMs: done.swapMs }
  } catch (e) {
    abandonFresh(db, projections, fresh)
    throw e
  }
}

