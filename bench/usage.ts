/**
 * Usage recording's own costs (`npm run bench:usage`), in process, a few seconds:
 * - memory: the heap the in-memory aggregate holds per token (one entry each), measured with
 *   --expose-gc around noting one decision for each of N tokens, each from its own address;
 * - flush: the time of one flush of N tokens (one minute entry each, with a last use) into
 *   usage.db and into Redis (BENCH_REDIS_URL, default 127.0.0.1:6379; skipped if it does not
 *   answer), median of ROUNDS flushes, each into buckets that already hold the earlier ones.
 * Forward-auth throughput with recording on and off is compared by `npm run bench:authorizer`.
 * Writes bench/results/usage.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Redis } from 'ioredis'
import { type Counted, countedAs, UsageRecorder } from '../src/usage/recorder.js'
import type { UsageStore } from '../src/usage/port.js'
import { redisUsageStore } from '../src/usage/redis-store.js'
import { sqliteUsageStore } from '../src/usage/sqlite-store.js'

const SIZES = [1_000, 10_000]
const ROUNDS = 7
const T0 = Date.parse('2026-03-01T12:00:00.000Z')

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heap = () => {
  for (let i = 0; i < 4; i += 1) gc()
  return process.memoryUsage().heapUsed
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const uid = (i: number) => `blt${i.toString(16).padStart(16, '0')}`
const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

const memoryPerToken = (n: number) => {
  // As the authorizer's cached token rows: one slot per token, made before the measure.
  const uids = Array.from({ length: n }, (_, i) => countedAs(uid(i)))
  const addresses = Array.from({ length: n }, (_, i) => address(i))
  const r = new UsageRecorder({ now: () => T0, maxEntries: n + 1 })
  const before = heap()
  for (let i = 0; i < n; i += 1) r.note(uids[i] as Counted, 'allowed', addresses[i], false, 0)
  const held = heap() - before
  if (r.size !== n || uids.length + addresses.length !== 2 * n) throw new Error('memory: wrong entry count')
  return held / n
}

const flushMs = async (store: UsageStore, n: number) => {
  const times: number[] = []
  for (let round = 0; round < ROUNDS; round += 1) {
    let now = T0 + round * 1000
    const r = new UsageRecorder({ now: () => now, maxEntries: n + 1 })
    for (let i = 0; i < n; i += 1) {
      now += 1
      r.note(countedAs(uid(i)), i % 10 === 0 ? 'denied' : 'allowed', address(i), false, 0)
    }
    const batch = r.take()
    const t0 = performance.now()
    await store.write(batch)
    times.push(performance.now() - t0)
  }
  return median(times)
}

const dir = mkdtempSync(join(tmpdir(), 'bench-usage-'))
const prefix = `bench-usage:${process.pid}:`
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true })
redis.on('error', () => {})
try {
  const memory = Object.fromEntries(SIZES.map((n) => [n, memoryPerToken(n)]))
  const sqlite: Record<number, number> = {}
  const inRedis: Record<number, number> = {}
  for (const n of SIZES) {
    const store = sqliteUsageStore(join(dir, `usage-${n}.db`), 90, () => T0)
    sqlite[n] = await flushMs(store, n)
    await store.close()
  }
  const redisUp = await redis.connect().then(
    () => true,
    () => false,
  )
  if (redisUp) for (const n of SIZES) inRedis[n] = await flushMs(redisUsageStore(redis, 90, prefix), n)
  const result = {
    at: new Date().toISOString(),
    node: process.version,
    heap_bytes_per_token: memory,
    flush_ms: { sqlite, redis: redisUp ? inRedis : 'not run: no Redis' },
    rounds: ROUNDS,
  }
  const out = join(fileURLToPath(new URL('.', import.meta.url)), 'results')
  mkdirSync(out, { recursive: true })
  writeFileSync(join(out, 'usage.json'), `${JSON.stringify(result, null, 2)}\n`)
  console.log(
    [
      `Usage recording: node ${process.version}`,
      ...SIZES.map((n) => `  ${n} tokens: ${memory[n]?.toFixed(0)} heap bytes per token; one flush ${sqlite[n]?.toFixed(1)} ms into usage.db, ${redisUp ? `${inRedis[n]?.toFixed(1)} ms` : 'not run'} into Redis`),
    ].join('\n'),
  )
} finally {
  rmSync(dir, { recursive: true, force: true })
  if (redis.status === 'ready') {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  } else redis.disconnect()
}
