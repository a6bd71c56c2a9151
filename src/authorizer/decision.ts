import type { Module } from '../domain/scope.js'
import type { Refusal } from './canonical.js'
import type { LimitsMode } from './limiter-mode.js'
import type { Outcome } from './metrics.js'
import { type ClassLimits, flatLimitHeaders, flatPolicyHeaders, type LimitCheck, type MaybePromise, recordOf } from './rate-limits.js'
import type { AccessClass } from './scope-check.js'

/**
 * What the authorizer answers, in its own terms: allowed, or denied for one of a closed list of
 * reasons with the facts that reason names. Surfaces turn a reason into HTTP through the one
 * table beside the domain errors' (`DENIAL_STATUS` in src/http/errors.ts), so no decision knows
 * a status code or a message.
 */
export const DENIAL_REASONS = [
  /** The surface could not read the request one way (repeated, overriding, missing or conflicting headers). */
  'not-judgeable',
  'missing-api-key',
  'unknown-stack',
  'missing-token',
  /** An `authorization` value that is not a secret's form: never looked up. */
  'malformed-token',
  /** Unknown, revoked, or rotated out with no grace left to look it up by. */
  'unknown-token',
  'token-of-other-stack',
  /** The previous secret of a rotated token, after its grace period. */
  'token-rotated-out',
  'token-expired',
  /** The token lives longer than its stack's policy now allows (max_lifetime_days), until edited to comply. */
  'policy-lifetime',
  'method-not-allowed',
  /** The URI could be read two ways (canonical.ts). */
  'uri-not-canonical',
  'unknown-path',
  /** A path no scope ever opens (path-modules.ts). */
  'never-allowed',
  'module-not-in-scope',
  'branch-not-in-scope',
  /** The token has `allowed_ips` and the trusted client address is not on it, or is unknown. */
  'address-not-allowed',
  'rate-limited',
  /** Too many failed authentications from the client's address. */
  'auth-rate-limited',
] as const
export type DenialReason = (typeof DENIAL_REASONS)[number]

/** The facts each reason carries, what its answer says. */
interface Facts {
  'not-judgeable': { readonly refusal: Refusal }
  'missing-api-key': {}
  'unknown-stack': {}
  'missing-token': {}
  'malformed-token': {}
  'unknown-token': {}
  'token-of-other-stack': {}
  'token-rotated-out': {}
  'token-expired': { readonly expiresAt: number }
  'policy-lifetime': { readonly maxLifetimeDays: number }
  'method-not-allowed': { readonly refusal: Refusal }
  'uri-not-canonical': { readonly refusal: Refusal }
  /** `path`: canonical, without the query. */
  'unknown-path': { readonly method: string; readonly path: string }
  'never-allowed': { readonly never: string }
  'module-not-in-scope': { readonly module: Module; readonly access: AccessClass }
  'branch-not-in-scope': { readonly branch: string }
  /** `address`: the trusted client address, undefined when there is none. */
  'address-not-allowed': { readonly address: string | undefined }
  /** `headers`: the rate-limit headers and Retry-After, as a flat `[name, value, ...]` list. */
  'rate-limited': { readonly budget: 'token' | 'stack'; readonly access: AccessClass; readonly limit: number; readonly headers: readonly string[] }
  'auth-rate-limited': { readonly retryAfter: number }
}

/** Each reason's metrics outcome (`authorizer_decisions_total{outcome}`), coarser than the reason. */
export const OUTCOME_OF = {
  'not-judgeable': 'forbidden',
  'missing-api-key': 'no_stack',
  'unknown-stack': 'no_stack',
  'missing-token': 'unauthorized',
  'malformed-token': 'unauthorized',
  'unknown-token': 'unauthorized',
  'token-of-other-stack': 'unauthorized',
  'token-rotated-out': 'unauthorized',
  'token-expired': 'expired',
  'policy-lifetime': 'expired',
  'method-not-allowed': 'forbidden',
  'uri-not-canonical': 'forbidden',
  'unknown-path': 'forbidden',
  'never-allowed': 'forbidden',
  'module-not-in-scope': 'forbidden',
  'branch-not-in-scope': 'branch',
  'address-not-allowed': 'forbidden',
  'rate-limited': 'rate_limited',
  'auth-rate-limited': 'auth_throttled',
} as const satisfies Record<DenialReason, Exclude<Outcome, 'allow'>>

export type DenyOf<R extends DenialReason> = { readonly allowed: false; readonly outcome: (typeof OUTCOME_OF)[R]; readonly reason: R } & Facts[R]
export type Deny = { [R in DenialReason]: DenyOf<R> }[DenialReason]
/** The authentication failures, which count against the client address (`auth-rate-limited`). */
export type AuthFailure = DenyOf<'missing-token' | 'malformed-token' | 'unknown-token' | 'token-of-other-stack' | 'token-rotated-out'>

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

/**
 * What the authorizer decides on (method, path, `api_key`, `authorization`, `branch`, client
 * address), as the surface received it: `method` and `path` (the URI, query included) are made
 * canonical by the decision (canonical.ts), so every surface judges the same form. `module` skips
 * the path table, for a plugin route that declares its module; `refusal` is a surface's own
 * finding that the request is not described well enough to judge (origin.ts).
 */
export interface AuthorizeInput {
  readonly method: string | undefined
  readonly path: string
  readonly apiKey: string | undefined
  readonly authorization: string | undefined
  readonly branch: string | undefined
  /**
   * The address of the client that sent the original request, when the service can trust it
   * (request-input.ts, `clientOf`): on the gateway and the plugin `req.ip` (the socket peer, or
   * what a proxy TRUST_PROXY trusts reports); on forward-auth, whose peer is the proxy asking,
   * only what a trusted proxy reports in X-Forwarded-For. Undefined: unknown. What a token's
   * `allowed_ips` is checked against, its last use records and the failed-authentication
   * limiter counts by.
   */
  readonly clientAddress?: string | undefined
  /**
   * The socket peer: what the failed-authentication limiter counts by when `clientAddress` is
   * unknown (forward-auth behind no trusted proxy), so that failures are still limited.
   */
  readonly peerAddress?: string | undefined
  readonly module?: Module | undefined
  readonly refusal?: Refusal | undefined
}

export interface Authorizer {
  /** Synchronous with in-memory counters; a promise with Redis. `await` works for both. */
  authorize(input: AuthorizeInput): MaybePromise<Decision>
  /** Where rate limits are counted now: `shared` through Redis, or `local` (no REDIS_URL, or Redis unreachable). */
  limits(): LimitsMode
  close(): Promise<void>
}
