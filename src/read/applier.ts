import type Database from 'better-sqlite3'
import type { Recorded } from '../domain/events.js'
import type { Current, Key, Projection, Row, Table } from './projection.js'
import type { TableName } from './schema.js'

/**
 * A projection at work on one connection: `apply` runs its evolve on an event inside the caller's
 * transaction; the rows it read and wrote may stay in memory until `flush`, which the caller runs
 * before it saves the checkpoint and commits; `discard` forgets them when the transaction fails.
 * A rebuild's fresh tables have no checkpoint until the swap, so it keeps rows across its
 * transactions (up to a bound, `held`) and flushes them before it indexes and swaps.
 */
export interface Applier {
  readonly apply: (rec: Recorded) => void
  readonly flush: () => void
  readonly discard: () => void
  /** How many groups of rows it holds in memory. */
  readonly held: () => number
}

const NO_ROWS: readonly Row[] = Object.freeze([])

/** A group's key in the buffer's map: its one value, or the values joined. */
const mapKey = (key: Key): string | number => (typeof key === 'object' ? key.join('\u0000') : key)

/**
 * `insert.run(row.c1, row.c2, ...)` for a table's columns, compiled once: binding positional
 * arguments is much cheaper than named parameters or an array, and a rebuild writes a row for
 * most events. Column names come from the projections' declarations, never from input.
 */
const binder = (columns: readonly string[]): ((statement: Database.Statement, row: Row) => void) => {
  for (const c of columns) if (!/^[a-z_][a-z0-9_]*$/i.test(c)) throw new Error(`not a column name: ${c}`)
  return new Function('statement', 'row', `statement.run(${columns.map((c) => `row.${c}`).join(', ')})`) as (statement: Database.Statement, row: Row) => void
}

interface Group {
  readonly key: Key
  rows: readonly Row[]
  dirty: boolean
}

/**
 * The groups of one table that the events of a transaction read or write: each is read at most
 * once and written at most once, when the transaction ends, however many events change it (a
 * token changed ten times in a page costs one read and one write instead of ten). The rows of a
 * table that evolve never reads (an audit entry, a membership) are written at once instead: no
 * event comes back to them, and they would only fill memory. The statements are prepared once.
 */
class TableRows {
  private readonly groups = new Map<string | number, Group>()
  private readonly select: Database.Statement<unknown[], Row>
  private readonly insert: Database.Statement
  private readonly bind: (statement: Database.Statement, row: Row) => void
  private readonly delete: Database.Statement
  /** A group is at most one row, which INSERT OR REPLACE replaces. */
  private readonly byPrimaryKey: boolean
  /** Whether evolve has read this table. */
  private read = false

  constructor(db: Database.Database, t: Table, name: string) {
    const columns = Object.keys(t.columns)
    const where = t.key.map((c) => `${c} = ?`).join(' AND ')
    this.select = db.prepare<unknown[], Row>(`SELECT ${columns.join(', ')} FROM ${name} WHERE ${where}`)
    this.insert = db.prepare(`INSERT OR REPLACE INTO ${name} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`)
    this.bind = binder(columns)
    this.delete = db.prepare(`DELETE FROM ${name} WHERE ${where}`)
    const primary = t.primaryKey ?? columns.filter((c) => /\bPRIMARY KEY\b/i.test(t.columns[c] as string))
    this.byPrimaryKey = primary.length === t.key.length && primary.every((c) => t.key.includes(c))
  }

  rows(key: Key): readonly Row[] {
    const k = mapKey(key)
    let group = this.groups.get(k)
    this.read = true
    if (group === undefined) {
      const rows = this.select.all(key)
      group = { key, rows: rows.length === 0 ? NO_ROWS : rows, dirty: false }
      this.groups.set(k, group)
    }
    return group.rows
  }

  write(key: Key, rows: readonly Row[]): void {
    const k = mapKey(key)
    const group = this.groups.get(k)
    if (group !== undefined) {
      group.rows = rows
      group.dirty = true
    } else if (this.read) this.groups.set(k, { key, rows, dirty: true })
    else this.store(key, rows)
  }

  private store(key: Key, rows: readonly Row[]): void {
    if (rows.length === 0 || !this.byPrimaryKey) this.delete.run(key)
    for (const row of rows) this.bind(this.insert, row)
  }

  flush(): void {
    for (const group of this.groups.values()) if (group.dirty) this.store(group.key, group.rows)
    this.groups.clear()
  }

  clear(): void {
    this.groups.clear()
  }

  get size(): number {
    return this.groups.size
  }
}

/** `p` on `db`, its tables named by `table`. */
export const applierOf = (db: Database.Database, p: Projection, table: TableName): Applier => {
  const tables = p.tables.map((t) => ({ t: t as Table, rows: new TableRows(db, t, table(t.name)) }))
  // A projection has a table or two: a scan finds one sooner than a map would.
  const of = (t: Table): TableRows => {
    for (const entry of tables) if (entry.t === t) return entry.rows
    throw new Error(`projection ${p.name} used table ${t.name}, which it does not declare`)
  }
  const current: Current = { rows: <R extends Row>(t: Table<R>, key: Key) => of(t as unknown as Table).rows(key) as readonly R[] }
  return {
    apply: (rec) => {
      for (const change of p.evolve(current, rec)) of(change.table).write(change.key, change.rows)
    },
    flush: () => {
      for (const { rows } of tables) rows.flush()
    },
    discard: () => {
      for (const { rows } of tables) rows.clear()
    },
    held: () => {
      let n = 0
      for (const { rows } of tables) n += rows.size
      return n
    },
  }
}
