import type { Redis } from 'ioredis'
import { Lease, SLICE_DIVISOR } from './lease.js'
import { type ClassLimits, type LimitCheck, type LimitStore, type MaybePromise, redisStore, WINDOW_MS } from './rate-limits.js'

/**
 * Reserves slices for a batch of requests at once: for each pair of keys (a token's window, then
 * its stack's) and its `want, token max, stack max` in ARGV after the window's length, as many
 * units as both windows have left, up to `want` (0 when either is spent, and then nothing is
 * counted). A key's window starts at its first reservation (PEXPIRE then), as in
 * @fastify/rate-limit's RedisStore; a key found without an expiry (its PEXPIRE lost) gets one, so
 * no counter outlives a window for good. Returns, per pair, `granted, token count, token ttl, stack
 * count, stack ttl`, the counts after the reservation; an absent key reads `0, 0`. Pairs are served
 * in order, so two of one stack see each other's units. All keys go to one Redis (a script's keys
 * must share a node: not for Redis Cluster).
 */
const RESERVE = `
local window = tonumber(ARGV[1])
local function read(key)
  local v = redis.call('GET', key)
  if not v then return 0, 0 end
  local n = tonumber(v)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  return n, ttl
end
local out = {}
for i = 1, #KEYS, 2 do
  local a = (i - 1) / 2 * 3 + 1
  local want, tmax, smax = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local t, tttl = read(KEYS[i])
  local s, sttl = read(KEYS[i + 1])
  local granted = math.max(0, math.min(want, tmax - t, smax - s))
  if granted > 0 then
    t = redis.call('INCRBY', KEYS[i], granted)
    if tttl == 0 then redis.call('PEXPIRE', KEYS[i], window); tttl = window end
    s = redis.call('INCRBY', KEYS[i + 1], granted)
    if sttl == 0 then redis.call('PEXPIRE', KEYS[i + 1], window); sttl = window end
  end
  out[#out + 1] = granted
  out[#out + 1] = t
  out[#out + 1] = tttl
  out[#out + 1] = s
  out[#out + 1] = sttl
end
return out
`

/** The script with its number of keys first (ioredis' defineCommand without a fixed count). */
type Reserve = (keyCount: number, ...keysThenArgs: Array<string | number>) => Promise<number[]>
const COMMAND = 'mtReserveSlices'

interface Pending {
  readonly l: ClassLimits
  readonly lease: Lease
  readonly sent: number
  readonly want: number
  readonly done: () => void
  readonly failed: (e: unknown) => void
}

/**
 * Counters shared by every instance through one Redis. A request spends a unit of its token's
 * Lease (lease.ts): with units left, at once and with no round trip; else the instance reserves a
 * slice of both budgets in one script call (concurrent requests of the token wait for that one
 * call) sized to its recent demand, at most 1/SLICE_DIVISOR of the smaller limit. Redis grants
 * no more than a window's limit in total, so no window admits more than a limit across all
 * instances; units an instance reserved and did not spend before the window ends are what it
 * under-admits. The store contract (failed authentications) goes through @fastify/rate-limit's
 * RedisStore on the same client and prefix.
 */
export class SharedCounters implements LimitStore {
  private readonly store: LimitStore
  private readonly script: Reserve
  private readonly leases = new WeakMap<ClassLimits, Lease>()
  private batch: Pending[] = []
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.store = redisStore(redis, prefix)
    const commands = redis as unknown as Record<string, Reserve | undefined>
    if (commands[COMMAND] === undefined) redis.defineCommand(COMMAND, { lua: RESERVE })
    this.script = (commands[COMMAND] as Reserve).bind(redis)
  }

  both(l: ClassLimits): MaybePromise<LimitCheck> {
    let lease = this.leases.get(l)
    if (lease === undefined) {
      lease = new Lease(Math.max(1, Math.floor(Math.min(l.tokenMax, l.stackMax) / SLICE_DIVISOR)))
      this.leases.set(l, lease)
    }
    return this.spend(l, lease)
  }

  private spend(l: ClassLimits, lease: Lease): MaybePromise<LimitCheck> {
    const now = this.now()
    const check = lease.spend(now)
    if (check !== undefined) return check
    if (lease.pending === undefined) lease.pending = this.reserve(l, lease, now)
    return lease.pending.then(() => this.spend(l, lease))
  }

  /**
   * Joins this turn of the event loop's batch: the reservations of every request that found its
   * lease empty go to Redis as one script call (setImmediate), not one call each.
   */
  private reserve(l: ClassLimits, lease: Lease, sent: number): Promise<void> {
    const want = lease.want(sent)
    return new Promise<void>((done, failed) => {
      if (this.batch.length === 0) setImmediate(this.flush)
      this.batch.push({ l, lease, sent, want, done, failed })
    }).finally(() => {
      lease.pending = undefined
    })
  }

  private readonly flush = (): void => {
    const batch = this.batch
    this.batch = []
    const keys: string[] = []
    const args: number[] = [WINDOW_MS]
    for (const p of batch) {
      keys.push(this.prefix + p.l.tokenKey, this.prefix + p.l.stackKey)
      args.push(p.want, p.l.tokenMax, p.l.stackMax)
    }
    this.script(keys.length, ...keys, ...args).then(
      (r) => {
        batch.forEach((p, i) => {
          const k = i * 5
          p.lease.granted(p.sent, r[k] as number, { tokenCount: r[k + 1] as number, tokenTtl: r[k + 2] as number, stackCount: r[k + 3] as number, stackTtl: r[k + 4] as number }, p.l.tokenMax)
          p.done()
        })
      },
      (e: unknown) => {
        for (const p of batch) p.failed(e)
      },
    )
  }

  incr: LimitStore['incr'] = (key, cb, timeWindow, max) => this.store.incr(key, cb, timeWindow, max)
  read: LimitStore['read'] = (key, cb, timeWindow, max) => this.store.read(key, cb, timeWindow, max)
}
