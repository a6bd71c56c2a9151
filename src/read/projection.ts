import type { EventType, Recorded } from '../domain/events.js'

/**
 * The projection contract: a projection is data (its name, version, file, tables and the events
 * it handles) plus a pure `evolve` of (the rows it asks for, event) -> the rows to write. How rows
 * are read, kept, batched and written is the read engine's (src/read/), which takes projections as
 * arguments and imports nothing but this module of theirs.
 */

/** The SQLite files of DATA_DIR that read models live in (see files.ts). */
export type ReadModelFile = 'read-models' | 'audit'

export type Value = string | number | null

/** A row: column name -> value. */
export type Row = { readonly [column: string]: Value }

/** An index, named `<table>_<name>`. */
export interface Index {
  readonly name: string
  /** The indexed columns as SQL (`api_key, created_by COLLATE NOCASE`). */
  readonly on: string
  readonly unique?: boolean
  /**
   * The table's `key` needs it: built with the table. Any other index only serves queries and is
   * built once after a rebuild's bulk load, several times cheaper than keeping it up to date row
   * by row.
   */
  readonly forKey?: boolean
}

export interface Table<R extends Row = Row> {
  readonly name: string
  /** Each column's SQL declaration (`TEXT NOT NULL`), in the table's column order. */
  readonly columns: { readonly [C in keyof R & string]: string }
  /** A primary key of several columns (one column says PRIMARY KEY in its declaration). */
  readonly primaryKey?: ReadonlyArray<keyof R & string>
  /** A table whose primary key is its INTEGER rowid says false; the others are WITHOUT ROWID. */
  readonly withoutRowid?: boolean
  /**
   * What evolve reads and replaces rows by: the rows with the same values in these columns are one
   * group. Usually the primary key (a group of at most one row); token_secrets groups a token's
   * secrets by its uid.
   */
  readonly key: ReadonlyArray<keyof R & string>
  readonly indexes?: readonly Index[]
}

/** A group's key: its one key column's value, or the values of several in `key` order. */
export type Key = string | number | readonly (string | number)[]

/** What evolve may read: the rows as the events before this one left them. */
export interface Current {
  /** The group of `table` under `key` (no rows when there is none). */
  rows<R extends Row>(table: Table<R>, key: Key): readonly R[]
}

/** What one event does to one group: its rows afterwards (none deletes it). */
export interface Change<R extends Row = Row> {
  readonly table: Table<R>
  readonly key: Key
  readonly rows: readonly R[]
}

export interface Projection {
  readonly name: string
  /** Bump when the tables or evolve change: the read model is rebuilt at start-up. */
  readonly version: number
  /** The SQLite file its tables and checkpoint live in. */
  readonly file: ReadModelFile
  readonly tables: readonly Table[]
  readonly handles: ReadonlySet<EventType>
  /**
   * A function of its arguments only, called for the events in `handles`, in log order. Replaying
   * an event must change nothing: the engine applies a few events twice after a rebuild's swap.
   */
  evolve(current: Current, event: Recorded): readonly Change[]
}

/** No change. */
export const NONE: readonly Change[] = Object.freeze([])

/** The first (for a primary-key group, the only) row of a group. */
export const one = <R extends Row>(current: Current, table: Table<R>, key: Key): R | undefined => current.rows(table, key)[0]

/** The group of `row`'s key becomes `row` alone. */
export const put = <R extends Row>(table: Table<R>, row: R): Change => ({ table, key: keyOf(table, row), rows: [row] }) as Change

/** The group under `key` becomes `rows`. */
export const replace = <R extends Row>(table: Table<R>, key: Key, rows: readonly R[]): Change => ({ table, key, rows }) as Change

/** The group under `key` is deleted. */
export const remove = <R extends Row>(table: Table<R>, key: Key): Change => ({ table, key, rows: [] }) as Change

/** The key of the group that `row` belongs to. */
export const keyOf = <R extends Row>(table: Table<R>, row: R): Key => {
  const key = table.key as ReadonlyArray<string>
  return key.length === 1 ? (row[key[0] as string] as string | number) : key.map((c) => row[c] as string | number)
}
