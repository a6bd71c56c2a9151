import { OUTCOMES, type Counts, type Outcome, type TokenUsage } from './types.js'

export const HOUR = 3_600_000
export const DAY = 86_400_000

export const OUTCOME_LABEL: Record<Outcome, string> = {
  allowed: 'Allowed',
  denied: 'Denied',
  rate_limited: 'Rate limited',
  expired: 'Expired',
  revoked: 'Revoked',
}

export interface Window {
  readonly from: number
  readonly to: number
  readonly step: number
  readonly granularity: 'hour' | 'day'
  readonly buckets: number
}

/**
 * The last `buckets` whole hours or UTC days, the current (partial) one last: from the start of
 * the first bucket to `now`.
 */
export const lastWindow = (now: number, granularity: 'hour' | 'day', buckets: number): Window => {
  const step = granularity === 'hour' ? HOUR : DAY
  const from = Math.floor(now / step) * step - (buckets - 1) * step
  return { from, to: now, step, granularity, buckets }
}

export const EMPTY: Counts = { allowed: 0, denied: 0, rate_limited: 0, expired: 0, revoked: 0 }

export interface Bucket extends Counts {
  /** The bucket's start (ms). */
  readonly at: number
}

/** One bucket per step of the window, zeros where the service has none; a count lands in the bucket holding its `at`. */
export const fillBuckets = (series: TokenUsage['series'], w: Window): Bucket[] => {
  const out: Array<Record<Outcome, number> & { at: number }> = Array.from({ length: w.buckets }, (_, i) => ({ ...EMPTY, at: w.from + i * w.step }))
  for (const s of series) {
    const i = Math.floor((Date.parse(s.at) - w.from) / w.step)
    const b = out[i]
    if (!b) continue
    for (const o of OUTCOMES) b[o] += s[o]
  }
  return out
}

export const total = (c: Counts): number => OUTCOMES.reduce((n, o) => n + c[o], 0)

/** The smallest of 1, 2, 5, 10, 20, 50, ... at or above `n` (at least 1): the chart's top. */
export const niceMax = (n: number): number => {
  if (n <= 1) return 1
  const p = 10 ** Math.floor(Math.log10(n))
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p
  return 10 * p
}

/** "14:00" for an hour bucket, "03-07" for a day, both UTC. */
export const bucketLabel = (at: number, granularity: 'hour' | 'day'): string => {
  const iso = new Date(at).toISOString()
  return granularity === 'hour' ? iso.slice(11, 16) : iso.slice(5, 10)
}
