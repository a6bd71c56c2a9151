import { Redis } from 'ioredis'
import { type BucketCounts, type BucketSize, DAY_MS, HOUR_MS, type LastUse, MINUTE_MS, MINUTE_RETENTION_MS, type TokenMinute, USAGE_OUTCOMES, type UsageStore } from './port.js'

/**
 * Raises a token's last use: a time is written only when later than the one kept, so instances
 * flushing in any order keep the latest. KEYS: one hash per token; ARGV: at, from, previous_at
 * per key ('' for none).
 */
const RAISE = `
for i, key in ipairs(KEYS) do
  local at, from, prev = ARGV[i * 3 - 2], ARGV[i * 3 - 1], ARGV[i * 3]
  if at ~= '' and tonumber(at) > tonumber(redis.call('HGET', key, 'at') or '0') then
    redis.call('HSET', key, 'at', at, 'from', from)
  end
  if prev ~= '' and tonumber(prev) > tonumber(redis.call('HGET', key, 'prev') or '0') then
    redis.call('HSET', key, 'prev', prev)
  end
end
return 0`

/**
 * Adds one minute's counts: KEYS the minute's hash and its hour's; ARGV the two TTLs (ms), then
 * field, count pairs. One command per minute of a flush, however many tokens it holds.
 */
const ADD = `
for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 0`

/**
 * Usage in Redis, shared by every instance using it: one hash per minute bucket and one per hour
 * bucket, fields `<token uid>:<outcome>`, added to by one script per minute of a flush; minute
 * hashes expire after 48 hours, hour hashes after the retention. Last uses are one small hash per
 * token (`at`, `from`, `prev`), raised by a script, kept as long as the token is ever read.
 */
export const redisUsageStore = (connection: Redis | string, retentionDays: number, prefix = 'mt-usage:'): UsageStore => {
  const redis = typeof connection === 'string' ? new Redis(connection, { maxRetriesPerRequest: 1, commandTimeout: 2000, enableAutoPipelining: true }) : connection
  // Failures reach the caller through the rejected commands; without a listener ioredis would log each one.
  if (typeof connection === 'string') redis.on('error', () => {})
  const bucketKey = (size: BucketSize, at: number) => `${prefix}${size === 'minute' ? 'm' : 'h'}:${at}`
  const lastKey = (uid: string) => `${prefix}last:${uid}`
  const ttl = { minute: MINUTE_RETENTION_MS + HOUR_MS, hour: retentionDays * DAY_MS + DAY_MS }
  return {
    async write(batch: readonly TokenMinute[]) {
      const minutes = new Map<number, string[]>()
      const keys: string[] = []
      const args: string[] = []
      for (const e of batch) {
        let pairs = minutes.get(e.minute)
        if (pairs === undefined) minutes.set(e.minute, (pairs = [String(ttl.minute), String(ttl.hour)]))
        for (const k of USAGE_OUTCOMES) if (e[k] !== 0) pairs.push(`${e.token_uid}:${k}`, String(e[k]))
        if (e.lastAt > 0 || e.previousAt > 0) {
          keys.push(lastKey(e.token_uid))
          args.push(e.lastAt ? String(e.lastAt) : '', e.lastFrom ?? '', e.previousAt ? String(e.previousAt) : '')
        }
      }
      const p = redis.pipeline()
      for (const [minute, pairs] of minutes) p.eval(ADD, 2, bucketKey('minute', minute), bucketKey('hour', minute - (minute % HOUR_MS)), ...pairs)
      if (keys.length > 0) p.eval(RAISE, keys.length, ...keys, ...args)
      const results = await p.exec()
      const failed = results?.find(([err]) => err !== null)
      if (failed) throw failed[0]
    },
    async buckets(size, uids, from, to) {
      if (uids.length === 0) return []
      const step = size === 'minute' ? MINUTE_MS : HOUR_MS
      const fields = uids.flatMap((uid) => USAGE_OUTCOMES.map((k) => `${uid}:${k}`))
      const starts: number[] = []
      for (let at = from - (from % step); at < to; at += step) if (at >= from) starts.push(at)
      const p = redis.pipeline()
      for (const at of starts) p.hmget(bucketKey(size, at), ...fields)
      const results = (await p.exec()) ?? []
      const found: BucketCounts[] = []
      starts.forEach((at, b) => {
        const [err, values] = results[b] ?? [null, []]
        if (err) throw err
        const v = values as (string | null)[]
        uids.forEach((token_uid, u) => {
          const n = (k: number) => Number(v[u * USAGE_OUTCOMES.length + k] ?? 0)
          const c = { allowed: n(0), denied: n(1), rate_limited: n(2), expired: n(3), revoked: n(4) }
          if (c.allowed + c.denied + c.rate_limited + c.expired + c.revoked > 0) found.push({ token_uid, at, ...c })
        })
      })
      return found
    },
    async lastUse(uids) {
      const found = new Map<string, LastUse>()
      if (uids.length === 0) return found
      const p = redis.pipeline()
      for (const uid of uids) p.hmget(lastKey(uid), 'at', 'from', 'prev')
      const results = (await p.exec()) ?? []
      uids.forEach((uid, i) => {
        const [err, v] = results[i] ?? [null, []]
        if (err) throw err
        const [at, from, prev] = v as (string | null)[]
        if (at || prev) found.set(uid, { at: at ? Number(at) : null, from: at && from ? from : null, previousAt: prev ? Number(prev) : null })
      })
      return found
    },
    async close() {
      // Only the connection it opened; a client handed in is its owner's to close.
      if (typeof connection === 'string') await redis.quit().catch(() => redis.disconnect())
    },
  }
}
