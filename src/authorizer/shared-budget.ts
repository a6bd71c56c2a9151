import type { Redis } from 'ioredis'
import { type ClassLimits, type LimitCheck, type LimitStore, redisStore, WINDOW_MS } from './rate-limits.js'

/**
 * Both budgets of a request in one Lua script, so a request costs one round trip to Redis instead
 * of two (the token's window, then the stack's). The script does what checkLimits does with two
 * store calls, atomically: INCR the token's key; over the token's limit, only read the stack's
 * key (a token over its own budget does not spend its stack's); else INCR the stack's key. A key's
 * window starts at its first hit (PEXPIRE then), as in @fastify/rate-limit's RedisStore; a key
 * found without an expiry (its PEXPIRE lost) gets one, so no counter outlives a window for good.
 * Returns `{token count, token ttl, stack count, stack ttl}`; a stack key read and absent is `0, 0`.
 * Both keys go to one Redis (a script's keys must share a node: not for Redis Cluster).
 */
const BOTH_BUDGETS = `
local window = tonumber(ARGV[2])
local function hit(key)
  local n = redis.call('INCR', key)
  if n == 1 then
    redis.call('PEXPIRE', key, window)
    return n, window
  end
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, window)
    ttl = window
  end
  return n, ttl
end
local t, tttl = hit(KEYS[1])
if t > tonumber(ARGV[1]) then
  local s = redis.call('GET', KEYS[2])
  if not s then return {t, tttl, 0, 0} end
  local sttl = redis.call('PTTL', KEYS[2])
  if sttl < 0 then sttl = 0 end
  return {t, tttl, tonumber(s), sttl}
end
local s, sttl = hit(KEYS[2])
return {t, tttl, s, sttl}
`

type BothBudgets = (tokenKey: string, stackKey: string, tokenMax: number, window: number) => Promise<[number, number, number, number]>
const COMMAND = 'mtBothBudgets'

/**
 * Counters shared by every instance through one Redis: both budgets of a request in one script
 * call (`both`); the store contract for what counts one key (failed authentications), through
 * @fastify/rate-limit's RedisStore on the same client and prefix.
 */
export class SharedCounters implements LimitStore {
  private readonly store: LimitStore
  private readonly script: BothBudgets
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.store = redisStore(redis, prefix)
    const commands = redis as unknown as Record<string, BothBudgets | undefined>
    if (commands[COMMAND] === undefined) redis.defineCommand(COMMAND, { numberOfKeys: 2, lua: BOTH_BUDGETS })
    this.script = (commands[COMMAND] as BothBudgets).bind(redis)
  }

  both(l: ClassLimits): Promise<LimitCheck> {
    return this.script(this.prefix + l.tokenKey, this.prefix + l.stackKey, l.tokenMax, WINDOW_MS).then(([tokenCurrent, tokenTtl, stackCurrent, stackTtl]) => ({
      exceeded: tokenCurrent > l.tokenMax ? 'token' : stackCurrent > l.stackMax ? 'stack' : undefined,
      tokenCurrent,
      tokenTtl,
      stackCurrent,
      stackTtl,
    }))
  }

  incr: LimitStore['incr'] = (key, cb, timeWindow, max) => this.store.incr(key, cb, timeWindow, max)
  read: LimitStore['read'] = (key, cb, timeWindow, max) => this.store.read(key, cb, timeWindow, max)
}
