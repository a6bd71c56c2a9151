import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import type { AccessClass } from './scope-check.js'

/**
 * Rate limits: fixed windows that start at a key's first hit and report `{current, ttl}`, the
 * contract of @fastify/rate-limit's stores, used directly rather than through the plugin's route
 * hook: one request is counted against two budgets (the token's and the stack's, per access
 * class), and the decision must also run outside a route (forward-auth, gateway, the management
 * API, the benchmark). With Redis, SharedCounters (shared-budget.ts) spends slices of both
 * budgets that it reserves in one Lua script call, in windows aligned to the clock instead, so
 * instances sharing a Redis share one budget at a fraction of a round trip per request (failed
 * authentications: the plugin's RedisStore). In memory, LocalCounters below keeps the first-hit
 * windows synchronously, with no callback, promise or LRU reordering per hit: the plugin's
 * LocalStore costs two closures and an LRU move per counter, a measurable share of a
 * forward-auth request (bench/authorizer.ts).
 */
export interface Hit {
  readonly current: number
  readonly ttl: number
}
type Callback = (error: Error | null, result?: Hit) => void
export interface LimitStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void
  read(key: string, cb: Callback, timeWindow: number, max: number): void
  /** Both budgets of a request in one call, when the store can (SharedCounters: slices reserved in Redis). */
  both?(l: ClassLimits): MaybePromise<LimitCheck>
}

const require = createRequire(import.meta.url)
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => LimitStore

export const redisStore = (redis: Redis, prefix: string): LimitStore => new RedisStore(false, false, redis, prefix)

/**
 * One key's window: what LocalStore keeps, plus its key and length, so that an expired one can be
 * swept, and whether it is still the map's (a holder of a reference then skips the lookup).
 */
export class Window implements Hit {
  current = 1
  ttl: number
  /** False once swept out of the map: a reference to it is then stale. */
  held = true
  constructor(
    readonly key: string,
    public start: number,
    readonly length: number,
  ) {
    this.ttl = length
  }
}

const NONE: Hit = Object.freeze({ current: 0, ttl: 0 })

/**
 * In-memory windows, answering as LocalStore does (Date.now(), a window of `length` ms from the
 * first hit, `ttl` what is left of it). A key whose window is over is the same as an absent one,
 * so when the map reaches `capacity` the expired windows are dropped first; only if more than
 * `capacity` windows are live at once are the oldest dropped (as an LRU would), which keeps
 * memory bounded when many client addresses fail to authenticate.
 */
export class LocalCounters implements LimitStore {
  private readonly windows = new Map<string, Window>()
  constructor(private readonly capacity = 100_000) {}

  /**
   * Counts a hit at `now` (Date.now()). The window returned is live state: read it at once.
   * `known`, the window this key got last time, saves the map lookup while the map still holds it.
   */
  hit(key: string, length: number, now: number, known?: Window): Window {
    const w = known !== undefined && known.held ? known : this.windows.get(key)
    if (w === undefined) {
      if (this.windows.size >= this.capacity) this.sweep(now)
      const fresh = new Window(key, now, length)
      this.windows.set(key, fresh)
      return fresh
    }
    if (w.start + length <= now) {
      w.start = now
      w.current = 1
      w.ttl = length
      // Re-inserted, so the map stays in order of window start for the oldest-first drop.
      this.windows.delete(key)
      this.windows.set(key, w)
    } else {
      w.current += 1
      w.ttl = length - (now - w.start)
    }
    return w
  }

  /** The window without counting: `{0, 0}` when there is none. */
  peek(key: string, length: number, now: number): Hit {
    const w = this.windows.get(key)
    if (w === undefined || w.start + length <= now) return NONE
    return { current: w.current, ttl: length - (now - w.start) }
  }

  get size(): number {
    return this.windows.size
  }

  private sweep(now: number): void {
    for (const w of this.windows.values()) if (w.start + w.length <= now) this.drop(w)
    if (this.windows.size < this.capacity) return
    let drop = this.windows.size - Math.floor(this.capacity * 0.9)
    for (const w of this.windows.values()) {
      if (drop-- <= 0) break
      this.drop(w)
    }
  }

  private drop(w: Window): void {
    w.held = false
    this.windows.delete(w.key)
  }

  // The store contract, for what is not on the hot path (failed authentications).
  incr(key: string, cb: Callback, timeWindow: number): void {
    const w = this.hit(key, timeWindow, Date.now())
    cb(null, { current: w.current, ttl: w.ttl })
  }

  read(key: string, cb: Callback, timeWindow: number): void {
    cb(null, this.peek(key, timeWindow, Date.now()))
  }
}

export type MaybePromise<A> = A | Promise<A>

/** Chains sync values synchronously, so the in-memory path allocates no promise. */
export const then = <A, B>(a: MaybePromise<A>, f: (a: A) => MaybePromise<B>): MaybePromise<B> =>
  a instanceof Promise ? a.then(f) : f(a)

/** A store call as a value: the hit itself when the store called back at once, else a promise. */
export const call = (store: LimitStore, method: 'incr' | 'read', key: string, window: number, max: number): MaybePromise<Hit> => {
  let result: Hit | undefined
  let failure: Error | null = null
  let settle: Callback | undefined
  store[method](
    key,
    (error, hit) => {
      if (settle) settle(error, hit)
      else {
        failure = error
        result = hit
      }
    },
    window,
    max,
  )
  if (failure) return Promise.reject(failure)
  if (result) return result
  return new Promise<Hit>((resolve, reject) => {
    settle = (error, hit) => (error ? reject(error) : resolve(hit as Hit))
  })
}

export const WINDOW_MS = 1000

/** A request counted against both budgets of its class: what the response headers report. */
export interface LimitCheck {
  /** Which budget the request exceeded, if any. */
  readonly exceeded: 'token' | 'stack' | undefined
  readonly tokenCurrent: number
  readonly tokenTtl: number
  readonly stackCurrent: number
  readonly stackTtl: number
}

const seconds = (ttl: number) => Math.ceil(ttl / 1000)

/**
 * A token's budget for one access class: its counter keys, the two maxima and the header text
 * that does not change between requests, built once per cached token rather than per request;
 * with in-memory counters, also the two windows it counted against last (checkLocal), so that a
 * request looks up no counter.
 */
export class ClassLimits {
  /** `X-RateLimit-Limit` */
  readonly limit: string
  /** `RateLimit-Policy` */
  readonly policy: string
  tokenWindow: Window | undefined = undefined
  stackWindow: Window | undefined = undefined
  constructor(
    readonly tokenKey: string,
    readonly stackKey: string,
    readonly tokenMax: number,
    readonly stackMax: number,
  ) {
    this.limit = String(tokenMax)
    this.policy = `"token";q=${tokenMax};w=1, "stack";q=${stackMax};w=1`
  }
}
export type TokenLimits = Record<AccessClass, ClassLimits>

/** `tokenMax` is the token's own limit per class, else the plan's; the stack always has the plan's. */
export const tokenLimits = (tokenUid: string, apiKey: string, tokenMax: Record<AccessClass, number>, stackMax: Record<AccessClass, number>): TokenLimits => ({
  read: new ClassLimits(`t:read:${tokenUid}`, `s:read:${apiKey}`, tokenMax.read, stackMax.read),
  write: new ClassLimits(`t:write:${tokenUid}`, `s:write:${apiKey}`, tokenMax.write, stackMax.write),
})

const retryAfterOf = (c: LimitCheck): number | undefined =>
  c.exceeded === undefined ? undefined : Math.max(1, seconds(c.exceeded === 'token' ? c.tokenTtl : c.stackTtl))

/** Rate-limit headers: the platform's X-RateLimit-* for the token's own budget, and the IETF draft-10 fields. */
const rateLimit = (l: ClassLimits, c: LimitCheck, tokenLeft: number) =>
  `"token";r=${tokenLeft};t=${seconds(c.tokenTtl)}, "stack";r=${Math.max(0, l.stackMax - c.stackCurrent)};t=${seconds(c.stackTtl)}`

/**
 * The rate-limit headers (X-RateLimit-*, RateLimit-Policy, RateLimit) as a flat
 * `[name, value, ...]` list, what forward-auth writes; Retry-After only when a budget is exceeded.
 */
export const flatLimitHeaders = (l: ClassLimits, c: LimitCheck): string[] => {
  const tokenLeft = Math.max(0, l.tokenMax - c.tokenCurrent)
  const flat = ['x-ratelimit-limit', l.limit, 'x-ratelimit-remaining', String(tokenLeft), 'ratelimit-policy', l.policy, 'ratelimit', rateLimit(l, c, tokenLeft)]
  const retryAfter = retryAfterOf(c)
  if (retryAfter !== undefined) flat.push('retry-after', String(retryAfter))
  return flat
}

/** Headers when the counters could not be reached: the policy, and no claim about what is left. */
export const flatPolicyHeaders = (l: ClassLimits): string[] => ['x-ratelimit-limit', l.limit, 'ratelimit-policy', l.policy]

/** A flat header list as a record (the gateway, the plugin, a 429's error). */
export const recordOf = (flat: readonly string[]): Record<string, string> => {
  const h: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) h[flat[i] as string] = flat[i + 1] as string
  return h
}

export const limitHeaders = (l: ClassLimits, c: LimitCheck): Record<string, string> => recordOf(flatLimitHeaders(l, c))

const checked = (exceeded: LimitCheck['exceeded'], token: Hit, stack: Hit): LimitCheck => ({
  exceeded,
  tokenCurrent: token.current,
  tokenTtl: token.ttl,
  stackCurrent: stack.current,
  stackTtl: stack.ttl,
})

/**
 * Counts one request of a class against the token's budget, then against the stack's (in one call
 * when the store has `both`, else one store call per budget). A token
 * over its own budget is refused without spending the stack's budget, so one greedy token does
 * not starve its siblings; its headers then report the stack's window read without counting.
 */
export const checkLimits = (store: LimitStore, l: ClassLimits): MaybePromise<LimitCheck> =>
  store.both !== undefined ? store.both(l) : then(call(store, 'incr', l.tokenKey, WINDOW_MS, l.tokenMax), (token) => {
    if (token.current > l.tokenMax) return then(call(store, 'read', l.stackKey, WINDOW_MS, l.stackMax), (stack) => checked('token', token, stack))
    return then(call(store, 'incr', l.stackKey, WINDOW_MS, l.stackMax), (stack) => checked(stack.current > l.stackMax ? 'stack' : undefined, token, stack))
  })

/** checkLimits on in-memory counters at `now` (Date.now()): synchronous, the same answers. */
export const checkLocal = (counters: LocalCounters, l: ClassLimits, now: number): LimitCheck => {
  const token = (l.tokenWindow = counters.hit(l.tokenKey, WINDOW_MS, now, l.tokenWindow))
  if (token.current > l.tokenMax) return checked('token', token, counters.peek(l.stackKey, WINDOW_MS, now))
  const stack = (l.stackWindow = counters.hit(l.stackKey, WINDOW_MS, now, l.stackWindow))
  return checked(stack.current > l.stackMax ? 'stack' : undefined, token, stack)
}

export const FAILURE_WINDOW_MS = 60_000

/** Failed authentications from one client address in the current minute; over `limit` is throttled. */
export const countFailure = (store: LimitStore, clientAddress: string, limit: number): MaybePromise<{ throttled: boolean; retryAfter: number }> =>
  then(call(store, 'incr', `f:${clientAddress}`, FAILURE_WINDOW_MS, limit), (hit) => ({
    throttled: hit.current > limit,
    retryAfter: Math.max(1, seconds(hit.ttl)),
  }))
