import { addTo, type BucketSize, type Counts, DAY_MS, HOUR_MS, MINUTE_MS, MINUTE_RETENTION_MS, type UsageStore, zero } from './port.js'

export const GRANULARITIES = ['minute', 'hour', 'day'] as const
export type Granularity = (typeof GRANULARITIES)[number]
export const STEP: Record<Granularity, number> = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS }
/** Most buckets one series answers with (minute: 48 h is 2,880; hour: over a year is too many). */
export const MAX_BUCKETS = 10_000

export type Point = { at: string } & Counts

export interface Series {
  readonly from: number
  readonly totals: Counts
  readonly series: Point[]
}

/** The start of the bucket `at` falls in (UTC). */
export const floorTo = (at: number, step: number): number => at - (((at % step) + step) % step)

/**
 * One token's counts from `from` (rounded down to its bucket) to `to`, every bucket present (a
 * zero where nothing was counted), so a chart has one point per bucket. Days add up hours.
 */
export const seriesOf = async (store: Pick<UsageStore, 'buckets'>, uid: string, from: number, to: number, granularity: Granularity): Promise<Series> => {
  const step = STEP[granularity]
  const start = floorTo(from, step)
  const size: BucketSize = granularity === 'minute' ? 'minute' : 'hour'
  const rows = await store.buckets(size, [uid], start, to)
  const points: Point[] = []
  for (let at = start; at < to; at += step) points.push({ at: new Date(at).toISOString(), ...zero() })
  const totals = zero()
  for (const r of rows) {
    const p = points[Math.floor((r.at - start) / step)]
    if (p === undefined) continue
    addTo(p, r)
    addTo(totals, r)
  }
  return { from: start, totals, series: points }
}

/**
 * Each token's totals from `from` to `to`: from minute buckets when the range starts within
 * their 48 hours (exact to the minute), else from hour buckets (from the hour `from` falls in).
 */
export const totalsOf = async (store: Pick<UsageStore, 'buckets'>, uids: readonly string[], from: number, to: number, now: number): Promise<Map<string, Counts>> => {
  const size: BucketSize = from >= now - MINUTE_RETENTION_MS ? 'minute' : 'hour'
  const rows = await store.buckets(size, uids, floorTo(from, STEP[size]), to)
  const totals = new Map(uids.map((u) => [u, zero()]))
  for (const r of rows) {
    const t = totals.get(r.token_uid)
    if (t) addTo(t, r)
  }
  return totals
}
