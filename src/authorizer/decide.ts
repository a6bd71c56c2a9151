import * as crypto from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { SECRET_LOOKUP } from '../../projections/token-by-hash/queries.js'
import type { Module } from '../domain/scope.js'
import { branchDenied, expired, forbidden, type HttpError, noStack, tooMany, unauthorized } from '../http/errors.js'
import type { Projector } from '../read/projector.js'
import type { ServiceDeps } from '../service.js'
import { authorizerMetrics, type Outcome } from './metrics.js'
import { canonicalMethod, type Refusal } from './canonical.js'
import { cachedRoute } from './path-modules.js'
import { denial } from './denial.js'
import {
  checkLimits,
  checkLocal,
  type ClassLimits,
  countFailure,
  flatLimitHeaders,
  type LimitCheck,
  limitHeaders,
  LocalCounters,
  type MaybePromise,
  flatPolicyHeaders,
  recordOf,
  redisStore,
  then,
  type TokenLimits,
  tokenLimits,
} from './rate-limits.js'
import { type AccessClass, allows, allowsBranch, classOfMethod, type CompiledScope, scopeCache } from './scope-check.js'

/** What a decision reads: the read models, the limits, the clock; metrics and lag when given. */
export type AuthorizerDeps = Pick<ServiceDeps, 'config' | 'readDb' | 'clock'> &
  Partial<Pick<ServiceDeps, 'metrics' | 'projector' | 'store'>>

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

/**
 * What the authorizer decides on (method, path, `api_key`, `authorization`, `branch`, client
 * address), as the surface received it: `method` and `path` (the URI, query included) are made
 * canonical here (canonical.ts), so every surface judges the same form. `module` skips the path
 * table, for a plugin route that declares its module; `refusal` is a surface's own finding that
 * the request is not described well enough to judge (origin.ts).
 */
export interface AuthorizeInput {
  readonly method: string | undefined
  readonly path: string
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  readonly clientAddress?: string | undefined
  readonly module?: Module | undefined
  readonly refusal?: Refusal | undefined
}

export interface Allow {
  readonly allowed: true
  readonly outcome: 'allow'
  readonly tokenUid: string
  readonly apiKey: string
  /** The request that was judged, in canonical form: what a gateway forwards. */
  readonly method: string
  readonly url: string
  /** Rate-limit headers for the response (X-RateLimit-*, RateLimit-Policy, RateLimit). */
  readonly headers: Record<string, string>
}
export interface Deny {
  readonly allowed: false
  readonly outcome: Exclude<Outcome, 'allow'>
  /** The error (`error_message`, `error_code`, `errors`); a 429 carries the rate-limit headers and Retry-After. */
  readonly error: HttpError
}
export type Decision = Allow | Deny

/**
 * The authorizer's own Allow: its headers are built when read, from the counts taken at decision
 * time, and forward-auth takes them as a flat list without an intermediate record (`flatHeaders`).
 */
export class Allowed implements Allow {
  readonly allowed = true
  readonly outcome = 'allow'
  constructor(
    readonly tokenUid: string,
    readonly apiKey: string,
    readonly method: string,
    readonly url: string,
    private readonly limits: ClassLimits,
    /** Undefined when the counters could not be reached: the policy only. */
    private readonly check: LimitCheck | undefined,
  ) {}

  get headers(): Record<string, string> {
    return recordOf(this.flatHeaders())
  }

  /** The headers as the start of a flat `[name, value, ...]` list. */
  flatHeaders(): string[] {
    return this.check === undefined ? flatPolicyHeaders(this.limits) : flatLimitHeaders(this.limits, this.check)
  }
}

export interface Authorizer {
  /** Synchronous with in-memory counters; a promise with Redis. `await` works for both. */
  authorize(input: AuthorizeInput): MaybePromise<Decision>
  close(): Promise<void>
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

/** A secret's form: `cs` and 32 to 128 lower-case hex digits, at [start, end) of `s`. */
const isSecretAt = (s: string, start: number, end: number): boolean => {
  const length = end - start
  if (length < 34 || length > 130 || s.charCodeAt(start) !== 99 /* c */ || s.charCodeAt(start + 1) !== 115 /* s */) return false
  for (let i = start + 2; i < end; i++) {
    const c = s.charCodeAt(i)
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false
  }
  return true
}
const BEARER = 'bearer '
/** The secret of an `authorization` value (`Bearer <secret>` or the secret alone, spaces around it ignored); anything else is not looked up at all. */
const secretOf = (authorization: string): string | undefined => {
  const start = authorization.length > 7 && (authorization.startsWith('Bearer ') || authorization.slice(0, 7).toLowerCase() === BEARER) ? 7 : 0
  // Checked in place, without a copy, when nothing is to be trimmed (a secret starts with c and ends with a digit).
  if (isSecretAt(authorization, start, authorization.length)) return start === 0 ? authorization : authorization.slice(start)
  const secret = authorization.slice(start).trim()
  return isSecretAt(secret, 0, secret.length) ? secret : undefined
}
/** One-shot `crypto.hash` (Node >= 20.12) creates no Hash object: about half the cost. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash
export const hashOf: (secret: string) => string = oneShot
  ? (secret) => oneShot('sha256', secret, 'hex')
  : /* c8 ignore next */ (secret) => crypto.createHash('sha256').update(secret).digest('hex')

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

const deny = (outcome: Deny['outcome'], error: HttpError): Deny => ({ allowed: false, outcome, error })

const MISSING = denial(unauthorized('The management token is missing: send it in the authorization header.', { authorization: ['is required'] }))
const UNKNOWN = denial(unauthorized('The management token is not valid: it is unknown, revoked or rotated out.', { authorization: ['is not a valid management token'] }))
const OTHER_STACK = denial(unauthorized('The management token does not belong to the stack named by api_key.', { authorization: ['belongs to another stack'] }))
const ROTATED = denial(unauthorized('The management token secret was rotated out and its grace period is over.', { authorization: ['was rotated out'] }))
const NO_API_KEY = denial(noStack('The api_key header is missing.'))
const BAD_API_KEY = denial(noStack('The api_key is not valid: no such stack.'))

/** Input quoted in a message, bounded: the message is also a header (denial.ts). */
const short = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}...` : text)
/** A request that cannot be judged as one CMA route is a 403 that says why. */
const refused = (r: Refusal): Deny => deny('forbidden', denial(forbidden(r.refused, { [r.field]: [r.problem] })))

/**
 * The decision once the counters have counted. A function of its arguments rather than a closure
 * made per decision: a closure is an allocation, and under tsx (esbuild's keepNames) each one
 * also costs an Object.defineProperty of its name, 2.6% of a forward-auth server's samples (perf).
 */
const limited = (c: LimitCheck, tokenUid: string, apiKey: string, method: string, url: string, cls: AccessClass, limits: ClassLimits): Decision =>
  c.exceeded === undefined
    ? new Allowed(tokenUid, apiKey, method, url, limits, c)
    : deny('rate_limited', denial(tooMany(`Rate limit exceeded: the ${c.exceeded}'s ${cls} budget of ${c.exceeded === 'token' ? limits.tokenMax : limits.stackMax} per second is spent.`, limitHeaders(limits, c))))

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
 * Order: 403 origin headers that cannot be read one way (conflicting, repeated, missing) -> 412
 * stack -> 401 token (missing, unknown, revoked, another stack, rotated out) -> 401/106 expired ->
 * 403 method or path not canonical, unknown path, forbidden module, scope -> 422/901 branch ->
 * 429 -> allow.
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
  const store = redis ? redisStore(redis, options.keyPrefix ?? 'mt-rl:') : (local as LocalCounters)
  const onLimiterError = options.onLimiterError ?? (() => {})
  const metrics = authorizerMetrics(deps.metrics ?? new Registry(), deps.projector, deps.store)

  const plan = { read: config.planReadLimit, write: config.planWriteLimit }
  const limitsOf = (r: TokenRow): TokenLimits =>
    tokenLimits(r.token_uid, r.api_key, { read: r.rate_read ?? plan.read, write: r.rate_write ?? plan.write }, plan)

  const authFailure = (input: AuthorizeInput, error: HttpError): MaybePromise<Decision> => {
    if (!input.clientAddress) return deny('unauthorized', error)
    const counted = then(countFailure(store, input.clientAddress, config.authFailureLimit), ({ throttled, retryAfter }) =>
      throttled
        ? deny('auth_throttled', denial(tooMany('Too many failed authentications from this address; try again later.', { 'retry-after': String(retryAfter) })))
        : deny('unauthorized', error),
    )
    return counted instanceof Promise
      ? counted.catch((e: unknown) => {
          onLimiterError(e)
          return deny('unauthorized', error)
        })
      : counted
  }

  const decide = (input: AuthorizeInput, started: number): MaybePromise<Decision> => {
    // A request whose headers cannot be read one way (repeated, overridden, conflicting) is not
    // judged at all: no lookup, no failure counted against a guessed token.
    if (input.refusal) return refused(input.refusal)
    const { apiKey } = input
    if (!apiKey) return deny('no_stack', NO_API_KEY)
    const secret = input.authorization ? secretOf(input.authorization) : undefined
    let row: CachedToken | undefined
    if (secret !== undefined) {
      const hash = hashOf(secret)
      row = tokens.get(hash, started)
      if (row === undefined) {
        const r = tokenByHash.get(hash)
        if (r !== undefined) row = tokens.set(hash, new CachedToken(r, scopes(r.scope), limitsOf(r)))
      }
    }
    if (row === undefined || row.api_key !== apiKey) {
      if (stackExists.get(apiKey) === undefined) return deny('no_stack', BAD_API_KEY)
      return authFailure(input, row !== undefined ? OTHER_STACK : input.authorization ? UNKNOWN : MISSING)
    }
    // The clock is read only for a token that can run out (most never do).
    if (row.valid_until !== null || row.expires_at !== null) {
      const now = clock().getTime()
      if (row.valid_until !== null && now >= row.valid_until) return authFailure(input, ROTATED)
      if (row.expires_at !== null && now >= row.expires_at)
        return deny('expired', denial(expired(`The management token expired at ${new Date(row.expires_at).toISOString()}.`)))
    }

    const method = canonicalMethod(input.method)
    if (typeof method !== 'string') return refused(method)
    const routed = route(input.path)
    if ('refused' in routed) return refused(routed)
    const cls = classOfMethod(method) as AccessClass
    const target = input.module !== undefined ? { module: input.module } : routed.target
    if (target === undefined)
      return deny('forbidden', denial(forbidden(`No scope module covers ${method} ${short(routed.path)}; it is denied.`, { path: ['is not a known CMA path'] })))
    if ('never' in target)
      return deny('forbidden', denial(forbidden(`Management tokens are never allowed on ${target.never}.`, { path: [`is ${target.never}`] })))
    const { scope } = row
    if (!allows(scope, target.module, cls))
      return deny('forbidden', denial(forbidden(`The token's scope does not allow ${cls} on ${target.module}.`, { scope: [`lacks ${target.module} ${cls}`] })))
    const branch = input.branch || 'main'
    if (!allowsBranch(scope, branch))
      return deny('branch', denial(branchDenied(`The token is not allowed on branch "${short(branch)}".`, { branch: ['is not in the token scope'] })))

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
