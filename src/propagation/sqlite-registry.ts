import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { ENTRY_TTL_MS, type InstanceEntry, type InstanceRegistry, liveAt, type Stamped } from './registry.js'

/**
 * The registry in a SQLite file beside the embedded event store (`instances.db`): every instance
 * that shares the store's file can open it. A file of its own, so heartbeats never take the
 * event store's write lock away from an append. Entries expire by the clock of the instance
 * reading them; instances sharing a SQLite file share a machine, and so a clock.
 */
export const sqliteRegistry = (file: string, clock: () => number = Date.now, ttlMs = ENTRY_TTL_MS): InstanceRegistry => {
  mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  // A heartbeat that finds the file locked is skipped rather than blocking the event loop: the next one comes soon.
  db.pragma('busy_timeout = 50')
  db.exec('CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, position INTEGER NOT NULL, seen_at INTEGER NOT NULL) WITHOUT ROWID')
  const put = db.prepare<[string, number, number]>('INSERT OR REPLACE INTO instances (id, position, seen_at) VALUES (?, ?, ?)')
  // Entries of instances long dead are deleted by whoever publishes next, so the table stays small.
  const purge = db.prepare<[number]>('DELETE FROM instances WHERE seen_at < ?')
  const all = db.prepare<[], { id: string; position: number; seen_at: number }>('SELECT id, position, seen_at FROM instances')
  const drop = db.prepare<[string]>('DELETE FROM instances WHERE id = ?')
  return {
    async publish({ id, position }: InstanceEntry) {
      const now = clock()
      db.transaction(() => {
        put.run(id, position, now)
        purge.run(now - 10 * ttlMs)
      })()
    },
    async live() {
      const rows: Stamped[] = all.all().map((r) => ({ id: r.id, position: r.position, seenAt: r.seen_at }))
      return liveAt(rows, clock(), ttlMs)
    },
    async close(id: string) {
      try {
        drop.run(id)
      } finally {
        db.close()
      }
    },
  }
}
