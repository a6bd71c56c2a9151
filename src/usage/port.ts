/**
 * Usage of tokens: how many decisions about each token the authorizer made, by outcome, per
 * minute and per hour, and when and from where it was last used. Counted in memory by each
 * instance (recorder.ts) and flushed to a store every instance reads (Redis, or a SQLite file
 * beside the embedded event store). Never a secret: tokens are named by their uid.
 */
export const USAGE_OUTCOMES = ['allowed', 'denied', 'rate_limited', 'expired', 'revoked'] as const
export type UsageOutcome = (typeof USAGE_OUTCOMES)[number]
export type Counts = { [K in UsageOutcome]: number }

export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000
/** Minute buckets are kept this long; hour buckets for the configured retention. */
export const MINUTE_RETENTION_MS = 48 * HOUR_MS

/** One token's counts in one minute, with its last uses in that minute (0: none). */
export interface TokenMinute extends Counts {
  readonly token_uid: string
  /** Start of the minute (ms since epoch). */
  readonly minute: number
  /** The last allowed request (ms since epoch), 0 when none. */
  readonly lastAt: number
  /** The trusted client address of that request, or null when none was known. */
  readonly lastFrom: string | null
  /** The last allowed request made with a rotated-out secret during its grace (ms), 0 when none. */
  readonly previousAt: number
}

export interface LastUse {
  readonly at: number | null
  readonly from: string | null
  readonly previousAt: number | null
}

export const NEVER: LastUse = { at: null, from: null, previousAt: null }

/** A bucket's counts for one token: `at` is the bucket's start (ms). */
export interface BucketCounts extends Counts {
  readonly token_uid: string
  readonly at: number
}

export type BucketSize = 'minute' | 'hour'

/** Where every instance's counts meet. Writes add (never replace); last uses keep the latest. */
export interface UsageStore {
  /** Adds the counts to their minute and hour buckets, and raises last uses, in one go. */
  write(batch: readonly TokenMinute[]): Promise<void>
  /** Non-empty buckets of `size` starting in [from, to) for these tokens. */
  buckets(size: BucketSize, uids: readonly string[], from: number, to: number): Promise<BucketCounts[]>
  lastUse(uids: readonly string[]): Promise<Map<string, LastUse>>
  close(): Promise<void>
}

export const zero = (): Counts => ({ allowed: 0, denied: 0, rate_limited: 0, expired: 0, revoked: 0 })

export const addTo = (into: Counts & Record<string, unknown>, c: Counts): void => {
  const m = into as { -readonly [K in UsageOutcome]: number }
  for (const k of USAGE_OUTCOMES) m[k] += c[k]
}
