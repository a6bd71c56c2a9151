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

/** SPEC 6.6: the platform's X-RateLimit-* for the token's own budget, and the IETF draft-10 fields. */
const headersOf = (tokenMax: number, stackMax: number, token: Hit, stack: Hit, retryAfter?: number): Record<string, string> => {
  const tokenLeft = Math.max(0, tokenMax - token.current)
  const h: Record<string, string> = {
    'x-ratelimit-limit': String(tokenMax),
    'x-ratelimit-remaining': String(tokenLeft),
    'ratelimit-policy': `"token";q=${tokenMax};w=1, "stack";q=${stackMax};w=1`,
    ratelimit: `"token";r=${tokenLeft};t=${seconds(token.ttl)}, "stack";r=${Math.max(0, stackMax - stack.current)};t=${seconds(stack.ttl)}`,
  }
  if (retryAfter !== undefined) h['retry-after'] = String(Math.max(1, retryAfter))
  return h
}

/** Headers when the counters could not be reached: the policy, and no claim about what is left. */
export const policyHeaders = (tokenMax: number, stackMax: number): Record<string, string> => ({
  'x-ratelimit-limit': String(tokenMax),
  'ratelimit-policy': `"token";q=${tokenMax};w=1, "stack";q=${stackMax};w=1`,
})

/** Counter keys of a token for each class, built once per cached token rather than per request. */
export type LimitKeys = Record<AccessClass, { readonly token: string; readonly stack: string }>
export const limitKeys = (tokenUid: string, apiKey: string): LimitKeys => ({
  read: { token: `t:read:${tokenUid}`, stack: `s:read:${apiKey}` },
  write: { token: `t:write:${tokenUid}`, stack: `s:write:${apiKey}` },
})

/**
 * Counts one request of a class against the token's budget, then against the stack's. A token
 * over its own budget is refused without spending the stack's budget, so one greedy token does
 * not starve its siblings; its headers then report the stack's window read without counting.
 */
export const checkLimits = (
  store: LimitStore,
  { token: tokenKey, stack: stackKey }: LimitKeys[AccessClass],
  tokenMax: number,
  stackMax: number,
): MaybePromise<LimitCheck> => then(call(store, 'incr', tokenKey, WINDOW_MS, tokenMax), (token) => {
    if (token.current > tokenMax)
      return then(call(store, 'read', stackKey, WINDOW_MS, stackMax), (stack) => ({
        exceeded: 'token' as const,
        headers: headersOf(tokenMax, stackMax, token, stack, seconds(token.ttl)),
      }))
    return then(call(store, 'incr', stackKey, WINDOW_MS, stackMax), (stack) =>
      stack.current > stackMax
        ? { exceeded: 'stack' as const, headers: headersOf(tokenMax, stackMax, token, stack, seconds(stack.ttl)) }
        : { exceeded: undefined, headers: headersOf(tokenMax, stackMax, token, stack) },
    )
  })

export const FAILURE_WINDOW_MS = 60_000

/** Failed authentications from one client address in the current minute; over `limit` is throttled. */
export const countFailure = (store: LimitStore, clientAddress: string, limit: number): MaybePromise<{ throttled: boolean; retryAfter: number }> =>
  then(call(store, 'incr', `f:${clientAddress}`, FAILURE_WINDOW_MS, limit), (hit) => ({
    throttled: hit.current > limit,
    retryAfter: Math.max(1, seconds(hit.ttl)),
  }))
