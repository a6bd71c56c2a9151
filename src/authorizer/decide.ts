import { performance } from 'node:perf_hooks'
import type Database from 'better-sqlite3'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { REVOKED_LOOKUP, SECRET_LOOKUP } from '../../projections/token-by-hash/queries.js'
import { failsChecksum, hashSecret, secretOf } from '../domain/secret.js'
import { outlives } from '../domain/token-policy.js'
import type { EventStore } from '../eventstore/port.js'
import type { Projector } from '../read/projector.js'
import { type Counted, countedAs, type UsageSink } from '../usage/recorder.js'
import type { UsageOutcome } from '../usage/port.js'
import { AllowList } from './allow-list.js'
import { authorizerMetrics, limiterMetrics } from './metrics.js'
import { canonicalMethod, type Refusal } from './canonical.js'
import { Allowed, type AuthFailure, type AuthorizeInput, type Authorizer, type Decision, type Deny, type DenyOf } from './decision.js'
import { cachedRoute } from './path-modules.js'
import { limiter, type LimitsMode, type Scheduler } from './limiter-mode.js'
import { checkLimits, type ClassLimits, countFailure, flatLimitHeaders, type LimitCheck, type MaybePromise, then, type TokenLimits, tokenLimits } from './rate-limits.js'
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
  /** Longest wait for a count in Redis (default REDIS_OPTIONS' 100 ms). */
  readonly redisCommandTimeoutMs?: number
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
  /** Told every decision about a known token (its secret, current or previous, resolved): usage and last use. */
  readonly usage?: UsageSink | undefined
}

export interface AuthorizerOptions {
  /** A Redis client for shared counters; default: one opened from `config.redisUrl`, if set. */
  readonly redis?: Redis
  /** Prefix of every Redis key (default `mt-rl:`); tests use a unique one. */
  readonly keyPrefix?: string
  /** Called on every failed call to the shared counters (a request's or a background probe's). */
  readonly onLimiterError?: (error: unknown) => void
  /** Called when counting turns local (with the failure) and when it is shared again: once each, not per request. */
  readonly onLimitsChange?: (mode: LimitsMode, cause?: unknown) => void
  /** Runs the probes of Redis while it is unreachable (default: timers); tests drive it by hand. */
  readonly scheduler?: Scheduler
  /** Runs the reservation of the next window's slices (default: timers); tests hold it back. */
  readonly ahead?: (delayMs: number, run: () => void) => void
  /** Most token rows kept in memory (default 200k); the cache is emptied when full. */
  readonly cacheSize?: number
}

/**
 * The client opened from REDIS_URL. A command that gets no answer in 100 ms fails (an Envoy
 * ext_authz check gives up at 200 ms), and one in flight when the connection drops fails then
 * (no retry), so the first failure is short; after it, or once the connection closes, no
 * decision sends a command at all (limiter-mode.ts). The offline queue stays on: it then only
 * ever holds the commands of start-up, sent once the first connection is made instead of failing
 * while it is being made, and the background probe; both are bounded by the command timeout.
 * Reconnection is tried at least once a second, so a restarted Redis is found quickly.
 */
export const REDIS_OPTIONS = {
  commandTimeout: 100,
  connectTimeout: 1000,
  maxRetriesPerRequest: 0,
  retryStrategy: (times: number) => Math.min(times * 50, 1000),
  enableAutoPipelining: true,
}

interface TokenRow {
  readonly token_uid: string
  readonly api_key: string
  readonly scope: string
  readonly expires_at: number | null
  readonly rate_read: number | null
  readonly rate_write: number | null
  readonly valid_until: number | null
  readonly created_at: number
  /** The stack policy's maximum lifetime in days, or null. */
  readonly max_lifetime_days: number | null
  readonly allowed_ips: string | null
}

/**
 * A cached token row. A class, so that every cached token has one hidden class: rows spread into
 * object literals got one each (V8 logged a megamorphic, missing property load for every field
 * read of every decision), which cost more than the rest of the decision.
 */
class CachedToken implements Counted {
  readonly token_uid: string
  readonly api_key: string
  readonly expires_at: number | null
  readonly valid_until: number | null
  /**
   * The stack policy's maximum lifetime (days) when the token outlives it, else null: decided once
   * per cached row (a policy change empties the cache), so a decision compares one field.
   */
  readonly outlivedPolicy: number | null
  /** The compiled `allowed_ips`, or null: no list, no check. */
  readonly ips: AllowList | null
  /** Usage's slot for the token's entry (recorder.ts): a decision counts without a lookup. */
  usageEntry: object | undefined = undefined
  constructor(
    r: TokenRow,
    readonly scope: CompiledScope,
    readonly limits: TokenLimits,
  ) {
    this.token_uid = r.token_uid
    this.api_key = r.api_key
    this.expires_at = r.expires_at
    this.valid_until = r.valid_until
    this.outlivedPolicy = outlives(r.max_lifetime_days, r.created_at, r.expires_at) ? r.max_lifetime_days : null
    this.ips = AllowList.of(r.allowed_ips)
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

/** A decision about a known token as usage counts it: a rotated-out secret (even throttled) is `revoked`. */
const USAGE_OF: Record<Decision['outcome'], UsageOutcome> = {
  allow: 'allowed',
  forbidden: 'denied',
  branch: 'denied',
  rate_limited: 'rate_limited',
  expired: 'expired',
  unauthorized: 'revoked',
  auth_throttled: 'revoked',
  no_stack: 'denied',
}

/**
 * Tells usage of a decision about `row` (which carries the token's usage slot); `valid_until`
 * marks a rotated-out secret. The client address is resolved for allowed requests only (the last
 * use): a denial needs none.
 */
const noted = (usage: UsageSink, d: Decision, row: CachedToken, input: AuthorizeInput, started: number): Decision => {
  // A token refused for outliving its stack's policy is a policy denial to its owner, though it
  // answers as an expired token does.
  if (d.allowed) usage.note(row, 'allowed', input.clientAddress, row.valid_until !== null, started)
  else usage.note(row, d.reason === 'policy-lifetime' ? 'denied' : USAGE_OF[d.outcome], undefined, false, started)
  return d
}

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
 * Unknown secrets are never cached, so guessing cannot fill memory. With usage recorded, an
 * unknown secret of an existing stack is looked up once more, among revoked secrets (one indexed
 * read on a path that is already a denial), so its attempt is counted for the revoked token.
 *
 * Order (reasons of decision.ts): not-judgeable (origin headers conflicting, repeated, missing)
 * -> missing-api-key, unknown-stack -> missing-, malformed-, unknown-token, token-of-other-stack,
 * token-rotated-out -> token-expired -> policy-lifetime -> address-not-allowed -> method-not-allowed,
 * uri-not-canonical, unknown-path,
 * never-allowed, module-not-in-scope -> branch-not-in-scope -> rate-limited -> allow; an
 * authentication failure may instead be auth-rate-limited.
 * A token row of the stack proves the stack exists, so the stack is looked up only when needed.
 */
export const createAuthorizer = (deps: AuthorizerDeps, options: AuthorizerOptions = {}): Authorizer => {
  const { config, readDb, clock, usage } = deps
  const tokenByHash = readDb.prepare<[string], TokenRow>(SECRET_LOOKUP)
  const revokedToken = readDb.prepare<[string, string], string>(REVOKED_LOOKUP).pluck()
  const stackExists = readDb.prepare<[string], number>('SELECT 1 FROM stacks WHERE api_key = ?').pluck()
  const scopes = scopeCache()
  const route = cachedRoute()
  const tokens = tokenCache(readDb, options.cacheSize ?? 200_000, deps.projector)

  const ownedRedis = options.redis === undefined && config.redisUrl !== undefined ? new Redis(config.redisUrl, { ...REDIS_OPTIONS, commandTimeout: config.redisCommandTimeoutMs ?? REDIS_OPTIONS.commandTimeout }) : undefined
  // Its connection errors are the limiter's to report (a failure, a change of mode): without a
  // listener, ioredis writes each reconnection attempt's error to stderr.
  ownedRedis?.on('error', () => {})
  const redis = options.redis ?? ownedRedis
  const store = redis ? new SharedCounters(redis, options.keyPrefix ?? 'mt-rl:', options.ahead ? { after: options.ahead } : {}) : undefined
  const registry = deps.metrics ?? new Registry()
  const metrics = authorizerMetrics(registry, deps.projector, deps.store)
  const limiterStats = limiterMetrics(registry)
  // Shared counters in Redis while it answers, else this process's own (synchronous: no promise per request).
  const counting = limiter(
    store && redis
      ? { check: (l) => checkLimits(store, l), countFailure: (a, n) => countFailure(store, a, n), probe: () => redis.ping() }
      : undefined,
    {
      ...(options.scheduler ? { scheduler: options.scheduler } : {}),
      onFailure: (e) => {
        limiterStats.limiterFailure()
        options.onLimiterError?.(e)
      },
      ...(options.onLimitsChange ? { onChange: options.onLimitsChange } : {}),
    },
  )
  const unreport = limiterStats.limiterMode(counting.mode)
  // A dropped connection opens the circuit at once: a decision arriving before a command has
  // failed would otherwise wait in the client's queue for the next reconnection attempt.
  const dropped = () => counting.down(new Error('the connection to Redis closed'))
  redis?.on('close', dropped)

  const plan = { read: config.planReadLimit, write: config.planWriteLimit }
  const limitsOf = (r: TokenRow): TokenLimits =>
    tokenLimits(r.token_uid, r.api_key, { read: r.rate_read ?? plan.read, write: r.rate_write ?? plan.write }, plan)

  const authFailure = (input: AuthorizeInput, failure: AuthFailure): MaybePromise<Decision> => {
    // No trustworthy client: the peer (the proxy asking) is counted, so guessing is still limited.
    const counted = input.clientAddress ?? input.peerAddress
    if (!counted) return failure
    return then(counting.countFailure(counted, config.authFailureLimit), ({ throttled, retryAfter }): Decision =>
      throttled ? { allowed: false, outcome: 'auth_throttled', reason: 'auth-rate-limited', retryAfter } : failure,
    )
  }

  const decide = (input: AuthorizeInput, started: number): MaybePromise<Decision> => {
    // A request whose headers cannot be read one way (repeated, overridden, conflicting) is not
    // judged at all: no lookup, no failure counted against a guessed token.
    if (input.refusal) return refused('not-judgeable', input.refusal)
    const { apiKey } = input
    if (!apiKey) return MISSING_API_KEY
    const secret = input.authorization ? secretOf(input.authorization) : undefined
    let row: CachedToken | undefined
    let hash: string | undefined
    // A wrong checksum is an unknown token, found so without hashing or reading anything.
    if (secret !== undefined && !failsChecksum(secret)) {
      hash = hashSecret(secret)
      row = tokens.get(hash, started)
      if (row === undefined) {
        const r = tokenByHash.get(hash)
        if (r !== undefined) row = tokens.set(hash, new CachedToken(r, scopes(r.scope), limitsOf(r)))
      }
    }
    if (row === undefined || row.api_key !== apiKey) {
      if (stackExists.get(apiKey) === undefined) return UNKNOWN_STACK
      if (row !== undefined) return authFailure(input, OTHER_STACK)
      if (hash === undefined) return authFailure(input, !input.authorization ? MISSING_TOKEN : secret === undefined ? MALFORMED_TOKEN : UNKNOWN_TOKEN)
      // The answer is an unknown token's whether or not the secret was revoked: only usage learns it.
      if (usage !== undefined) {
        const revoked = revokedToken.get(hash, apiKey)
        if (revoked !== undefined) usage.note(countedAs(revoked), 'revoked', undefined, false, started)
      }
      return authFailure(input, UNKNOWN_TOKEN)
    }
    if (usage === undefined) return known(input, row)
    const d = known(input, row)
    if (d instanceof Promise) return d.then((x) => noted(usage, x, row, input, started))
    return noted(usage, d, row, input, started)
  }

  /** The decision about a token its secret resolved to, in this stack. */
  const known = (input: AuthorizeInput, row: CachedToken): MaybePromise<Decision> => {
    const apiKey = row.api_key
    // The clock is read only for a token that can run out (most never do).
    if (row.valid_until !== null || row.expires_at !== null) {
      const now = clock().getTime()
      if (row.valid_until !== null && now >= row.valid_until) return authFailure(input, ROTATED_OUT)
      if (row.expires_at !== null && now >= row.expires_at) return { allowed: false, outcome: 'expired', reason: 'token-expired', expiresAt: row.expires_at }
    }
    if (row.outlivedPolicy !== null) return { allowed: false, outcome: 'expired', reason: 'policy-lifetime', maxLifetimeDays: row.outlivedPolicy }
    // The client address is resolved only for a token with an allow-list (few have one).
    if (row.ips !== null) {
      const address = input.clientAddress
      if (!row.ips.allows(address)) return { allowed: false, outcome: 'forbidden', reason: 'address-not-allowed', address }
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
    const c = counting.check(limits)
    if (!(c instanceof Promise)) return limited(c, tokenUid, apiKey, method, url, cls, limits)
    return c.then((x) => limited(x, tokenUid, apiKey, method, url, cls, limits))
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
    limits: counting.mode,
    async close() {
      counting.close()
      unreport()
      redis?.off('close', dropped)
      if (ownedRedis) await ownedRedis.quit().catch(() => ownedRedis.disconnect())
    },
  }
}
