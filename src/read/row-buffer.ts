/**
 * The rows of one table (or groups of rows, by a key) that the events of one transaction touch:
 * each is read at most once and written at most once, when the transaction ends, however many
 * events change it. A projection's `prepare` keeps one per table whose rows events update again
 * and again; a rebuild applies thousands of events per transaction, so a token changed ten times
 * in a page costs one read and one write instead of ten updates. Live projection uses the very
 * same code with its own (small) batches, so both give the same rows.
 *
 * Only valid inside one transaction: `flush` (before the commit) or `clear` (on a rollback) ends it;
 * a rebuild's fresh tables, which no one else reads, may keep one across transactions.
 */
export class RowBuffer<R> {
  /** null: known to be absent (never there, or deleted in this transaction). */
  private readonly rows = new Map<string, R | null>()
  private readonly dirty = new Set<string>()

  constructor(
    private readonly load: (key: string) => R | undefined,
    private readonly write: (key: string, row: R) => void,
    private readonly remove: (key: string) => void,
  ) {}

  get(key: string): R | undefined {
    let row = this.rows.get(key)
    if (row === undefined) {
      row = this.load(key) ?? null
      this.rows.set(key, row)
    }
    return row ?? undefined
  }

  /** Sets (or replaces) the row of `key`. */
  set(key: string, row: R): void {
    this.rows.set(key, row)
    this.dirty.add(key)
  }

  /** The row of `key` (from `get`) was changed in place. */
  changed(key: string): void {
    this.dirty.add(key)
  }

  delete(key: string): void {
    this.rows.set(key, null)
    this.dirty.add(key)
  }

  /** Writes every changed row, then forgets everything. */
  flush(): void {
    for (const key of this.dirty) {
      const row = this.rows.get(key)
      if (row) this.write(key, row)
      else this.remove(key)
    }
    this.clear()
  }

  /** Rows held (read, changed or known absent). */
  get size(): number {
    return this.rows.size
  }

  clear(): void {
    this.rows.clear()
    this.dirty.clear()
  }
}
