import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
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
  // Opening waits as the event store does (instances may switch a new file to WAL together).
  db.pragma('busy_timeout = 5000')
  db.pragma('journal_mode = WAL')
  db.exec('CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, position INTEGER NOT NULL, seen_at INTEGER NOT NULL) WITHOUT ROWID')
  // Another instance's write holds the file only for a moment: wait for it briefly here, then on timers
  // (publish below), so that a locked file never holds the event loop for long.
  db.pragma('busy_timeout = 20')
  const put = db.prepare<[string, number, number]>('INSERT OR REPLACE INTO instances (id, position, seen_at) VALUES (?, ?, ?)')
  // Entries of instances long dead are deleted by whoever publishes next, so the table stays small.
  const purge = db.prepare<[number]>('DELETE FROM instances WHERE seen_at < ?')
  const all = db.prepare<[], { id: string; position: number; seen_at: number }>('SELECT id, position, seen_at FROM instances')
  const drop = db.prepare<[string]>('DELETE FROM instances WHERE id = ?')
  return {
    async publish({ id, position }: InstanceEntry) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          const now = clock()
          db.transaction(() => {
            put.run(id, position, now)
            purge.run(now - 10 * ttlMs)
          })()
          return
        } catch (e) {
          if ((e as { code?: string }).code !== 'SQLITE_BUSY' || attempt === 5) throw e
          await sleep(5 * attempt)
        }
      }
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
