import type Database from 'better-sqlite3'
import type { EventType, Recorded } from '../domain/events.js'
import type { ReadModelFile } from './files.js'

/** Maps a projection's logical table name to the physical one (live, or a rebuild's fresh copy). */
export type TableName = (logical: string) => string

/**
 * A projection is data plus a pure-ish function of (rows, event): it declares its name, version,
 * tables and the events it handles; `prepare` compiles its statements once and returns the
 * function that applies one event. The projector writes rows and checkpoint in one transaction.
 * Every apply must be an idempotent upsert/update/delete, so replaying an event changes nothing.
 */
export interface Projection {
  readonly name: string
  /** Bump when the tables or the apply function change: the read model is rebuilt at start-up. */
  readonly version: number
  /** The SQLite file its tables and checkpoint live in (see files.ts). */
  readonly file: ReadModelFile
  readonly tables: readonly string[]
  readonly handles: ReadonlySet<EventType>
  /** Creates the tables and the indexes that `prepare`'s statements need (IF NOT EXISTS). */
  create(db: Database.Database, table: TableName): void
  /**
   * Creates the indexes that only the queries need (IF NOT EXISTS). A rebuild creates them once,
   * after its bulk load, which is several times cheaper than keeping them up to date row by row.
   */
  index(db: Database.Database, table: TableName): void
  prepare(db: Database.Database, table: TableName): Applier
}

/**
 * What `prepare` returns. `apply` runs inside the caller's transaction; it may keep rows in memory
 * (see RowBuffer) until `flush`, which the caller runs before it saves the checkpoint and commits;
 * `discard` forgets them when the transaction fails. Live projection and rebuilds both do this.
 * A rebuild's fresh tables have no checkpoint until the swap, so it keeps rows across its
 * transactions (up to a bound) and flushes them before it indexes and swaps.
 */
export interface Applier {
  readonly apply: (rec: Recorded) => void
  readonly flush: () => void
  readonly discard: () => void
  /** How many rows it holds in memory: a rebuild flushes only above a bound, and at the end. */
  readonly held: () => number
}

/** An Applier that writes each event's rows at once. */
export const direct = (apply: (rec: Recorded) => void): Applier => ({ apply, flush: () => {}, discard: () => {}, held: () => 0 })

/** An Applier whose rows wait in a RowBuffer until the transaction ends (written by `flush`). */
export const buffered = (rows: { flush(): void; clear(): void; readonly size: number }, apply: (rec: Recorded) => void): Applier => ({
  apply,
  flush: () => rows.flush(),
  discard: () => rows.clear(),
  held: () => rows.size,
})

export const identity: TableName = (logical) => logical

/** `CREATE INDEX schema.name ON table`: SQLite takes the schema on the index's name only. */
export const unqualified = (table: string): string => table.slice(table.indexOf('.') + 1)

/** Each read-model file's checkpoints, one row per projection in that file. */
export const CHECKPOINTS_TABLE = 'projection_checkpoints'

export const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso))
