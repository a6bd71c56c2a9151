import type { Redis } from 'ioredis'
import { Lease, SLICE_DIVISOR } from './lease.js'
import { type ClassLimits, type LimitCheck, type LimitStore, type MaybePromise, redisStore, WINDOW_MS } from './rate-limits.js'

/**
 * Reserves up to ARGV[1] units of both budgets of a request at once: as many as the token's and
 * the stack's windows both have left (0 when either is spent, and then nothing is counted). A
 * key's window starts at its first reservation (PEXPIRE then), as in @fastify/rate-limit's
 * RedisStore; a key found without an expiry (its PEXPIRE lost) gets one, so no counter outlives a
 * window for good. Returns `{granted, token count, token ttl, stack count, stack ttl}`, the counts
 * after the reservation; an absent key reads `0, 0`. Both keys go to one Redis (a script's keys
 * must share a node: not for Redis Cluster).
 */
const RESERVE = `
local want, tmax, smax, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
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
local t, tttl = read(KEYS[1])
local s, sttl = read(KEYS[2])
local granted = math.max(0, math.min(want, tmax - t, smax - s))
if granted > 0 then
  t = redis.call('INCRBY', KEYS[1], granted)
  if tttl == 0 then redis.call('PEXPIRE', KEYS[1], window); tttl = window end
  s = redis.call('INCRBY', KEYS[2], granted)
  if sttl == 0 then redis.call('PEXPIRE', KEYS[2], window); sttl = window end
end
return {granted, t, tttl, s, sttl}
`

type Reserve = (tokenKey: string, stackKey: string, want: number, tokenMax: number, stackMax: number, window: number) => Promise<[number, number, number, number, number]>
const COMMAND = 'mtReserveBudgets'

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
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.store = redisStore(redis, prefix)
    const commands = redis as unknown as Record<string, Reserve | undefined>
    if (commands[COMMAND] === undefined) redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: RESERVE })
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

  private reserve(l: ClassLimits, lease: Lease, sent: number): Promise<void> {
    const want = lease.want(sent)
    return this.script(this.prefix + l.tokenKey, this.prefix + l.stackKey, want, l.tokenMax, l.stackMax, WINDOW_MS).then(
      ([granted, tokenCount, tokenTtl, stackCount, stackTtl]) => {
        lease.pending = undefined
        lease.granted(sent, granted, { tokenCount, tokenTtl, stackCount, stackTtl }, l.tokenMax)
      },
      (e: unknown) => {
        lease.pending = undefined
        throw e
      },
    )
  }

  incr: LimitStore['incr'] = (key, cb, timeWindow, max) => this.store.incr(key, cb, timeWindow, max)
  read: LimitStore['read'] = (key, cb, timeWindow, max) => this.store.read(key, cb, timeWindow, max)
}
