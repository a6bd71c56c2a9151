import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { type BucketCounts, type BucketSize, DAY_MS, HOUR_MS, type LastUse, MINUTE_RETENTION_MS, type TokenMinute, type UsageStore } from './port.js'

type Row = BucketCounts & { size: string }
const CHUNK = 1000

/**
 * Usage in a SQLite file beside the embedded event store (`usage.db`): every instance that shares
 * the store's file adds its counts here. A file of its own, so a flush never takes the event
 * store's write lock. A flush is a transaction per thousand entries of upserts that add to the rows; the last use
 * keeps the later time (`max`), whoever writes last. Buckets past their retention are deleted by
 * the flush that follows the hour they expired in.
 */
export const sqliteUsageStore = (file: string, retentionDays: number, now: () => number = Date.now): UsageStore => {
  mkdirSync(dirname(file), { recursive: true })
  const db = new Database(file)
  // Opening waits as the event store does (instances may switch a new file to WAL together).
  db.pragma('busy_timeout = 5000')
  db.pragma('journal_mode = WAL')
  db.exec(`
    CREATE TABLE IF NOT EXISTS usage_buckets (
      token_uid TEXT NOT NULL, size TEXT NOT NULL, at INTEGER NOT NULL,
      allowed INTEGER NOT NULL, denied INTEGER NOT NULL, rate_limited INTEGER NOT NULL, expired INTEGER NOT NULL, revoked INTEGER NOT NULL,
      PRIMARY KEY (token_uid, size, at)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS usage_buckets_by_age ON usage_buckets (size, at);
    CREATE TABLE IF NOT EXISTS usage_last (
      token_uid TEXT PRIMARY KEY, at INTEGER, from_addr TEXT, previous_at INTEGER) WITHOUT ROWID;`)
  // Another instance's flush holds the file briefly; a flush that still finds it busy fails and
  // its counts are kept for the next one.
  db.pragma('busy_timeout = 200')
  const add = db.prepare<[string, string, number, number, number, number, number, number]>(`
    INSERT INTO usage_buckets VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET allowed = allowed + excluded.allowed, denied = denied + excluded.denied,
      rate_limited = rate_limited + excluded.rate_limited, expired = expired + excluded.expired, revoked = revoked + excluded.revoked`)
  const raise = db.prepare<[string, number | null, string | null, number | null]>(`
    INSERT INTO usage_last VALUES (?, ?, ?, ?)
    ON CONFLICT DO UPDATE SET
      from_addr = CASE WHEN excluded.at > coalesce(at, 0) THEN excluded.from_addr ELSE from_addr END,
      at = max(coalesce(at, 0), coalesce(excluded.at, 0)),
      previous_at = max(coalesce(previous_at, 0), coalesce(excluded.previous_at, 0))`)
  const purge = db.prepare<[string, number]>('DELETE FROM usage_buckets WHERE size = ? AND at < ?')
  const read = db.prepare<[string, string, number, number], Row>('SELECT * FROM usage_buckets WHERE token_uid = ? AND size = ? AND at >= ? AND at < ? ORDER BY at')
  const last = db.prepare<[string], { at: number | null; from_addr: string | null; previous_at: number | null }>('SELECT at, from_addr, previous_at FROM usage_last WHERE token_uid = ?')
  let purgedHour = 0
  const write = db.transaction((batch: readonly TokenMinute[]) => {
    for (const e of batch) {
      const c = [e.allowed, e.denied, e.rate_limited, e.expired, e.revoked] as const
      add.run(e.token_uid, 'minute', e.minute, ...c)
      add.run(e.token_uid, 'hour', e.minute - (e.minute % HOUR_MS), ...c)
      if (e.lastAt > 0 || e.previousAt > 0) raise.run(e.token_uid, e.lastAt || null, e.lastAt ? e.lastFrom : null, e.previousAt || null)
    }
    const t = now()
    const hour = t - (t % HOUR_MS)
    if (hour !== purgedHour) {
      purgedHour = hour
      purge.run('minute', hour - MINUTE_RETENTION_MS)
      purge.run('hour', hour - retentionDays * DAY_MS)
    }
  })
  const nullIfZero = (n: number | null) => (n === null || n === 0 ? null : n)
  return {
    async write(batch) {
      // better-sqlite3 is synchronous: a transaction per CHUNK entries, the event loop free
      // between them, so a large flush never stalls decisions for long.
      for (let i = 0; i < batch.length; i += CHUNK) {
        if (i > 0) await new Promise((resolve) => setImmediate(resolve))
        write(batch.slice(i, i + CHUNK))
      }
    },
    async buckets(size: BucketSize, uids, from, to) {
      return uids.flatMap((uid) => read.all(uid, size, from, to).map(({ size: _, ...r }) => r))
    },
    async lastUse(uids) {
      const found = new Map<string, LastUse>()
      for (const uid of uids) {
        const r = last.get(uid)
        if (r) found.set(uid, { at: nullIfZero(r.at), from: nullIfZero(r.at) === null ? null : r.from_addr, previousAt: nullIfZero(r.previous_at) })
      }
      return found
    },
    async close() {
      db.close()
    },
  }
}
