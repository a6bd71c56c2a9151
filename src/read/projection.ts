import type Database from 'better-sqlite3'
import type { EventType, Recorded } from '../domain/events.js'

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
  readonly tables: readonly string[]
  readonly handles: ReadonlySet<EventType>
  create(db: Database.Database, table: TableName): void
  prepare(db: Database.Database, table: TableName): (rec: Recorded) => void
}

export const identity: TableName = (logical) => logical

export const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso))
