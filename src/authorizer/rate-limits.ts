import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'
import type { AccessClass } from './scope-check.js'

/**
 * Rate limits through @fastify/rate-limit's own stores, used directly rather than through the
 * plugin's route hook: one request is counted against two budgets (the token's and the stack's,
 * per access class), the decision must also run outside a route (forward-auth, gateway, the
 * management API, the benchmark), and the plugin's hook always goes through a promise even for
 * its in-memory store. The stores keep the plugin's contract: `incr(key, cb, timeWindow, max)`
 * starts a fixed window at a key's first hit and reports `{current, ttl}`; LocalStore answers
 * synchronously from an LRU map, RedisStore runs one Lua script (INCR + PEXPIRE) so instances
 * sharing a Redis share one budget.
 */
export interface Hit {
  readonly current: number
  readonly ttl: number
}
type Callback = (error: Error | null, result?: Hit) => void
export interface LimitStore {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void
  read(key: string, cb: Callback, timeWindow: number, max: number): void
}

const require = createRequire(import.meta.url)
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  cache: number,
) => LimitStore
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key: string,
) => LimitStore

/** A one-second window only needs the keys hit within a second; the LRU keeps 100k of them. */
export const localStore = (capacity = 100_000): LimitStore => new LocalStore(false, false, capacity)
export const redisStore = (redis: Redis, prefix: string): LimitStore => new RedisStore(false, false, redis, prefix)

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

export interface LimitCheck {
  /** Which budget the request exceeded, if any. */
  readonly exceeded: 'token' | 'stack' | undefined
  readonly headers: Record<string, string>
}

const seconds = (ttl: number) => Math.ceil(ttl / 1000)

/**
 * A token's budget for one access class: its counter keys, the two maxima and the header text
 * that does not change between requests, built once per cached token rather than per request.
 */
export interface ClassLimits {
  readonly tokenKey: string
  readonly stackKey: string
  readonly tokenMax: number
  readonly stackMax: number
  /** `X-RateLimit-Limit` */
  readonly limit: string
  /** `RateLimit-Policy` */
  readonly policy: string
}
export type TokenLimits = Record<AccessClass, ClassLimits>

const classLimits = (tokenKey: string, stackKey: string, tokenMax: number, stackMax: number): ClassLimits => ({
  tokenKey,
  stackKey,
  tokenMax,
  stackMax,
  limit: String(tokenMax),
  policy: `"token";q=${tokenMax};w=1, "stack";q=${stackMax};w=1`,
})

/** `tokenMax` is the token's own limit per class, else the plan's; the stack always has the plan's. */
export const tokenLimits = (tokenUid: string, apiKey: string, tokenMax: Record<AccessClass, number>, stackMax: Record<AccessClass, number>): TokenLimits => ({
  read: classLimits(`t:read:${tokenUid}`, `s:read:${apiKey}`, tokenMax.read, stackMax.read),
  write: classLimits(`t:write:${tokenUid}`, `s:write:${apiKey}`, tokenMax.write, stackMax.write),
})

/** SPEC 6.6: the platform's X-RateLimit-* for the token's own budget, and the IETF draft-10 fields. */
const headersOf = (l: ClassLimits, token: Hit, stack: Hit, retryAfter?: number): Record<string, string> => {
  const tokenLeft = Math.max(0, l.tokenMax - token.current)
  const h: Record<string, string> = {
    'x-ratelimit-limit': l.limit,
    'x-ratelimit-remaining': String(tokenLeft),
    'ratelimit-policy': l.policy,
    ratelimit: `"token";r=${tokenLeft};t=${seconds(token.ttl)}, "stack";r=${Math.max(0, l.stackMax - stack.current)};t=${seconds(stack.ttl)}`,
  }
  if (retryAfter !== undefined) h['retry-after'] = String(Math.max(1, retryAfter))
  return h
}

/** Headers when the counters could not be reached: the policy, and no claim about what is left. */
export const policyHeaders = (l: ClassLimits): Record<string, string> => ({
  'x-ratelimit-limit': l.limit,
  'ratelimit-policy': l.policy,
})

/**
 * Counts one request of a class against the token's budget, then against the stack's. A token
 * over its own budget is refused without spending the stack's budget, so one greedy token does
 * not starve its siblings; its headers then report the stack's window read without counting.
 */
export const checkLimits = (store: LimitStore, l: ClassLimits): MaybePromise<LimitCheck> =>
  then(call(store, 'incr', l.tokenKey, WINDOW_MS, l.tokenMax), (token) => {
    if (token.current > l.tokenMax)
      return then(call(store, 'read', l.stackKey, WINDOW_MS, l.stackMax), (stack) => ({
        exceeded: 'token' as const,
        headers: headersOf(l, token, stack, seconds(token.ttl)),
      }))
    return then(call(store, 'incr', l.stackKey, WINDOW_MS, l.stackMax), (stack) =>
      stack.current > l.stackMax
        ? { exceeded: 'stack' as const, headers: headersOf(l, token, stack, seconds(stack.ttl)) }
        : { exceeded: undefined, headers: headersOf(l, token, stack) },
    )
  })

export const FAILURE_WINDOW_MS = 60_000

/** Failed authentications from one client address in the current minute; over `limit` is throttled. */
export const countFailure = (store: LimitStore, clientAddress: string, limit: number): MaybePromise<{ throttled: boolean; retryAfter: number }> =>
  then(call(store, 'incr', `f:${clientAddress}`, FAILURE_WINDOW_MS, limit), (hit) => ({
    throttled: hit.current > limit,
    retryAfter: Math.max(1, seconds(hit.ttl)),
  }))
