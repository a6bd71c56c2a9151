import { performance } from 'node:perf_hooks'
import type Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { SECRET_LOOKUP } from '../../projections/token-by-hash/queries.js'
import { hashSecret, secretOf } from '../domain/secret.js'
import type { EventStore } from '../eventstore/port.js'
import type { Projector } from '../read/projector.js'
import { authorizerMetrics } from './metrics.js'
import { canonicalMethod, type Refusal } from './canonical.js'
import { Allowed, type AuthFailure, type AuthorizeInput, type Authorizer, type Decision, type Deny, type DenyOf } from './decision.js'
import { cachedRoute } from './path-modules.js'
import {
  checkLimits,
  checkLocal,
  type ClassLimits,
  countFailure,
  flatLimitHeaders,
  type LimitCheck,
  LocalCounters,
  type MaybePromise,
  then,
  type TokenLimits,
  tokenLimits,
} from './rate-limits.js'
import { SharedCounters } from './shared-budget.js'
import { type AccessClass, allows, allowsBranch, classOfMethod, type CompiledScope, scopeCache } from './scope-check.js'

export { Allowed, DENIAL_REASONS } from './decision.js'
export type { Allow, AuthorizeInput, Authorizer, Decision, DenialReason, Deny, DenyOf } from './decision.js'

/** The settings a decision reads (the service's Config has them, with the same meaning). */
export interface AuthorizerConfig {
  /** Shared counters; in memory when unset. */
  readonly redisUrl: string | undefined
  readonly planReadLimit: number
  readonly planWriteLimit: number
  readonly authFailureLimit: number
}

/** What a decision reads: the read models, the limits, the clock; metrics and lag when given. */
export interface AuthorizerDeps {
  readonly config: AuthorizerConfig
  /** The read models (`token_secrets`, `stacks`). */
  readonly readDb: Database.Database
  readonly clock: () => Date
  readonly metrics?: Registry | undefined
  /** The in-process projector: its batch counter keeps the token cache fresh, its position measures lag. */
  readonly projector?: Pick<Projector, 'generation' | 'position'> | undefined
  /** With `projector`, for the lag metrics. */
  readonly store?: Pick<EventStore, 'readAll'> | undefined
}

export interface AuthorizerOptions {
  /** A Redis client for shared counters; default: one opened from `config.redisUrl`, if set. */
  readonly redis?: Redis
  /** Prefix of every Redis key (default `mt-rl:`); tests use a unique one. */
  readonly keyPrefix?: string
  /** Called when the counters fail (Redis down): the request is then not rate-limited. */
  readonly onLimiterError?: (error: unknown) => void
  /** Most token rows kept in memory (default 200k); the cache is emptied when full. */
  readonly cacheSize?: number
}

interface TokenRow {
  readonly token_uid: string
  readonly api_key: string
  readonly scope: string
  readonly expires_at: number | null
  readonly rate_read: number | null
  readonly rate_write: number | null
  readonly valid_until: number | null
}

/**
 * A cached token row. A class, so that every cached token has one hidden class: rows spread into
 * object literals got one each (V8 logged a megamorphic, missing property load for every field
 * read of every decision), which cost more than the rest of the decision.
 */
class CachedToken {
  readonly token_uid: string
  readonly api_key: string
  readonly expires_at: number | null
  readonly valid_until: number | null
  constructor(
    r: TokenRow,
    readonly scope: CompiledScope,
    readonly limits: TokenLimits,
  ) {
    this.token_uid = r.token_uid
    this.api_key = r.api_key
    this.expires_at = r.expires_at
    this.valid_until = r.valid_until
  }
}

/**
 * Token rows by secret hash, emptied whenever the read models may have changed (see below).
 * `generation` is the in-process projector's batch counter when there is one.
 */
const tokenCache = (readDb: AuthorizerDeps['readDb'], max: number, projector: Pick<Projector, 'generation'> | undefined) => {
  const rows = new Map<string, CachedToken>()
  const ownChanges = readDb.prepare<[], number>('SELECT total_changes()').pluck()
  const othersChanges = readDb.prepare<[], number>('PRAGMA data_version').pluck()
  let generation = projector?.generation
  let changes = ownChanges.get()
  let version = othersChanges.get()
  let checkedAt = performance.now()
  const sqliteChanged = () => {
    const c = ownChanges.get()
    const v = othersChanges.get()
    if (c === changes && v === version) return false
    changes = c
    version = v
    return true
  }
  const fresh = projector
    ? (now: number) => {
        const g = projector.generation
        if (g !== generation) {
          generation = g
          rows.clear()
        }
        if (now - checkedAt >= 1) {
          checkedAt = now
          if (sqliteChanged()) rows.clear()
        }
      }
    : () => {
        if (sqliteChanged()) rows.clear()
      }
  return {
    /** `now`: performance.now() of the decision, for the at-most-once-a-millisecond check. */
    get(hash: string, now: number): CachedToken | undefined {
      fresh(now)
      return rows.get(hash)
    },
    set(hash: string, row: CachedToken): CachedToken {
      if (rows.size >= max) rows.clear()
      rows.set(hash, row)
      return row
    },
  }
}

/** The denials that carry no facts: one object each, shared by every decision. */
const MISSING_API_KEY: Deny = { allowed: false, outcome: 'no_stack', reason: 'missing-api-key' }
const UNKNOWN_STACK: Deny = { allowed: false, outcome: 'no_stack', reason: 'unknown-stack' }
const MISSING_TOKEN: AuthFailure = { allowed: false, outcome: 'unauthorized', reason: 'missing-token' }
const MALFORMED_TOKEN: AuthFailure = { allowed: false, outcome: 'unauthorized', reason: 'malformed-token' }
const UNKNOWN_TOKEN: AuthFailure = { allowed: false, outcome: 'unauthorized', reason: 'unknown-token' }
const OTHER_STACK: AuthFailure = { allowed: false, outcome: 'unauthorized', reason: 'token-of-other-stack' }
const ROTATED_OUT: AuthFailure = { allowed: false, outcome: 'unauthorized', reason: 'token-rotated-out' }

type RefusalReason = 'not-judgeable' | 'method-not-allowed' | 'uri-not-canonical'
/** A request that cannot be judged as one CMA route: denied with the surface's or canonical.ts's words. */
const refused = (reason: RefusalReason, refusal: Refusal): DenyOf<RefusalReason> => ({ allowed: false, outcome: 'forbidden', reason, refusal })

/**
 * The decision once the counters have counted. A function of its arguments rather than a closure
 * made per decision: a closure is an allocation, and under tsx (esbuild's keepNames) each one
 * also costs an Object.defineProperty of its name, 2.6% of a forward-auth server's samples (perf).
 */
const limited = (c: LimitCheck, tokenUid: string, apiKey: string, method: string, url: string, cls: AccessClass, limits: ClassLimits): Decision =>
  c.exceeded === undefined
    ? new Allowed(tokenUid, apiKey, method, url, limits, c)
    : {
        allowed: false,
        outcome: 'rate_limited',
        reason: 'rate-limited',
        budget: c.exceeded,
        access: cls,
        limit: c.exceeded === 'token' ? limits.tokenMax : limits.stackMax,
        headers: flatLimitHeaders(limits, c),
      }

/**
 * The request authorizer, deciding in a fixed order (below), so the same input always gets the same
 * answer. It reads only the read models. Token rows are cached by secret hash, and the cache is
 * dropped whenever the read models may have changed:
 * - with an in-process projector, every request compares its `generation`, which it bumps after
 *   each committed batch and before `projector.waitFor` resolves, so the next decision sees the
 *   change; at most once a millisecond, `total_changes()` of the read-model connection (other
 *   writes through it) and `PRAGMA data_version` (commits by other connections, such as a
 *   rebuild swapping identical tables in) are compared too;
 * - without one (the plugin on a read-model file written by a service process), both SQLite
 *   counters are compared on every request.
 * Measured on the benchmark machine: a primary-key SELECT costs about 8 us in a tight loop and
 * several times that under HTTP load (WAL read locks), the cache hit well under 1 us.
 * Unknown secrets are never cached, so guessing cannot fill memory.
 *
 * Order (reasons of decision.ts): not-judgeable (origin headers conflicting, repeated, missing)
 * -> missing-api-key, unknown-stack -> missing-, malformed-, unknown-token, token-of-other-stack,
 * token-rotated-out -> token-expired -> method-not-allowed, uri-not-canonical, unknown-path,
 * never-allowed, module-not-in-scope -> branch-not-in-scope -> rate-limited -> allow; an
 * authentication failure may instead be auth-rate-limited.
 * A token row of the stack proves the stack exists, so the stack is looked up only when needed.
 */
export const createAuthorizer = (deps: AuthorizerDeps, options: AuthorizerOptions = {}): Authorizer => {
  const { config, readDb, clock } = deps
  const tokenByHash = readDb.prepare<[string], TokenRow>(SECRET_LOOKUP)
  const stackExists = readDb.prepare<[string], number>('SELECT 1 FROM stacks WHERE api_key = ?').pluck()
  const scopes = scopeCache()
  const route = cachedRoute()
  const tokens = tokenCache(readDb, options.cacheSize ?? 200_000, deps.projector)

  const ownedRedis = options.redis === undefined && config.redisUrl !== undefined
    ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 500, enableAutoPipelining: true })
    : undefined
  const redis = options.redis ?? ownedRedis
  // Shared counters in Redis, or this process's own (synchronous: no promise per request).
  const local = redis ? undefined : new LocalCounters()
  const store = redis ? new SharedCounters(redis, options.keyPrefix ?? 'mt-rl:') : (local as LocalCounters)
  const onLimiterError = options.onLimiterError ?? (() => {})
  const metrics = authorizerMetrics(deps.metrics ?? new Registry(), deps.projector, deps.store)

  const plan = { read: config.planReadLimit, write: config.planWriteLimit }
  const limitsOf = (r: TokenRow): TokenLimits =>
    tokenLimits(r.token_uid, r.api_key, { read: r.rate_read ?? plan.read, write: r.rate_write ?? plan.write }, plan)

  const authFailure = (input: AuthorizeInput, failure: AuthFailure): MaybePromise<Decision> => {
    if (!input.clientAddress) return failure
    const counted = then(countFailure(store, input.clientAddress, config.authFailureLimit), ({ throttled, retryAfter }): Decision =>
      throttled ? { allowed: false, outcome: 'auth_throttled', reason: 'auth-rate-limited', retryAfter } : failure,
    )
    return counted instanceof Promise
      ? counted.catch((e: unknown) => {
          onLimiterError(e)
          return failure
        })
      : counted
  }

  const decide = (input: AuthorizeInput, started: number): MaybePromise<Decision> => {
    // A request whose headers cannot be read one way (repeated, overridden, conflicting) is not
    // judged at all: no lookup, no failure counted against a guessed token.
    if (input.refusal) return refused('not-judgeable', input.refusal)
    const { apiKey } = input
    if (!apiKey) return MISSING_API_KEY
    const secret = input.authorization ? secretOf(input.authorization) : undefined
    let row: CachedToken | undefined
    if (secret !== undefined) {
      const hash = hashSecret(secret)
      row = tokens.get(hash, started)
      if (row === undefined) {
        const r = tokenByHash.get(hash)
        if (r !== undefined) row = tokens.set(hash, new CachedToken(r, scopes(r.scope), limitsOf(r)))
      }
    }
    if (row === undefined || row.api_key !== apiKey) {
      if (stackExists.get(apiKey) === undefined) return UNKNOWN_STACK
      return authFailure(input, row !== undefined ? OTHER_STACK : !input.authorization ? MISSING_TOKEN : secret === undefined ? MALFORMED_TOKEN : UNKNOWN_TOKEN)
    }
    // The clock is read only for a token that can run out (most never do).
    if (row.valid_until !== null || row.expires_at !== null) {
      const now = clock().getTime()
      if (row.valid_until !== null && now >= row.valid_until) return authFailure(input, ROTATED_OUT)
      if (row.expires_at !== null && now >= row.expires_at) return { allowed: false, outcome: 'expired', reason: 'token-expired', expiresAt: row.expires_at }
    }

    const method = canonicalMethod(input.method)
    if (typeof method !== 'string') return refused('method-not-allowed', method)
    const routed = route(input.path)
    if ('refused' in routed) return refused('uri-not-canonical', routed)
    const cls = classOfMethod(method) as AccessClass
    const target = input.module !== undefined ? { module: input.module } : routed.target
    if (target === undefined) return { allowed: false, outcome: 'forbidden', reason: 'unknown-path', method, path: routed.path }
    if ('never' in target) return { allowed: false, outcome: 'forbidden', reason: 'never-allowed', never: target.never }
    const { scope } = row
    if (!allows(scope, target.module, cls)) return { allowed: false, outcome: 'forbidden', reason: 'module-not-in-scope', module: target.module, access: cls }
    const branch = input.branch || 'main'
    if (!allowsBranch(scope, branch)) return { allowed: false, outcome: 'branch', reason: 'branch-not-in-scope', branch }

    const limits = row.limits[cls]
    const tokenUid = row.token_uid
    const url = routed.url
    if (local) return limited(checkLocal(local, limits, Date.now()), tokenUid, apiKey, method, url, cls, limits)
    return (checkLimits(store, limits) as Promise<LimitCheck>).then(
      (c) => limited(c, tokenUid, apiKey, method, url, cls, limits),
      (e: unknown): Decision => {
        // Counters unreachable: scope, expiry and revocation still hold; limits are skipped.
        onLimiterError(e)
        return new Allowed(tokenUid, apiKey, method, url, limits, undefined)
      },
    )
  }

  const record = (d: Decision, started: number): Decision => {
    metrics.record(d.outcome, (performance.now() - started) / 1000)
    return d
  }

  return {
    authorize(input) {
      const started = performance.now()
      const d = decide(input, started)
      return d instanceof Promise ? d.then((x) => record(x, started)) : record(d, started)
    },
    async close() {
      if (ownedRedis) await ownedRedis.quit().catch(() => ownedRedis.disconnect())
    },
  }
}
