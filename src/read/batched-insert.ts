import type Database from 'better-sqlite3'

/** Rows per INSERT statement of a bulk load: one statement run (one call into SQLite) per 16 rows. */
export const ROWS_PER_INSERT = 16

/**
 * Inserts rows of `width` values through `head` (`INSERT ... INTO table (columns)`), ROWS_PER_INSERT
 * to a statement from one reused array; `flush` inserts the few left one by one. bench:ops' write
 * floors insert a file's final rows this way.
 */
export class BatchedInsert {
  private readonly many: Database.Statement
  private readonly one: Database.Statement
  private readonly values: unknown[]
  private held = 0

  constructor(db: Database.Database, head: string, private readonly width: number) {
    const row = `(${Array.from({ length: width }, () => '?').join(', ')})`
    this.many = db.prepare(`${head} VALUES ${Array.from({ length: ROWS_PER_INSERT }, () => row).join(', ')}`)
    this.one = db.prepare(`${head} VALUES ${row}`)
    this.values = new Array<unknown>(ROWS_PER_INSERT * width)
  }

  /** Adds the row whose `width` values start at `from` in `flat`. */
  add(flat: readonly unknown[], from: number): void {
    for (let k = from; k < from + this.width; k++) this.values[this.held++] = flat[k]
    if (this.held === this.values.length) {
      this.many.run(this.values)
      this.held = 0
    }
  }

  /** Inserts the rows still held, one statement each. */
  flush(): void {
    for (let r = 0; r < this.held; r += this.width) this.one.run(this.values.slice(r, r + this.width))
    this.held = 0
  }
}
