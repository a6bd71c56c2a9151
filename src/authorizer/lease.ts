import { type LimitCheck, WINDOW_MS } from './rate-limits.js'

/**
 * A slice is at most this fraction of the smaller of a request's two limits: what one instance can
 * hold unspent when a window ends, so n instances under-admit at most n / SLICE_DIVISOR of a limit
 * per window (three instances: under 10 %).
 */
export const SLICE_DIVISOR = 32

/** What a reservation found in Redis: the counts after it and the windows' remaining ttl (ms). */
export interface Reserved {
  readonly tokenCount: number
  readonly tokenTtl: number
  readonly stackCount: number
  readonly stackTtl: number
}

/**
 * One token's slice of its two windows (token and stack, one access class) on this instance: units
 * reserved in Redis and not yet spent, and until when they may be spent (the earlier window end,
 * counted from when the reservation was sent, so never after Redis has closed the window). A
 * reservation that got nothing is remembered until the spent window ends: with no unit ever given
 * back, the window stays spent, and the refusals ask Redis nothing. Times are Date.now() ms.
 */
export class Lease {
  pending: Promise<void> | undefined = undefined
  private units = 0
  private used = 0
  private tokenBase = 0
  private stackBase = 0
  private tokenEnd = 0
  private stackEnd = 0
  private until = 0
  private refused: 'token' | 'stack' | undefined = undefined
  private refusedUntil = 0
  /** Units spent since the current run of windows began: the next window's first slice. */
  private demand = 0

  constructor(readonly cap: number) {}

  /** A unit spent at `now`, a refusal still known, or undefined: reserve first. */
  spend(now: number): LimitCheck | undefined {
    if (now < this.until && this.used < this.units) {
      this.used += 1
      this.demand += 1
      return { exceeded: undefined, tokenCurrent: this.tokenBase + this.used, tokenTtl: this.tokenEnd - now, stackCurrent: this.stackBase + this.used, stackTtl: this.stackEnd - now }
    }
    if (this.refused !== undefined && now < this.refusedUntil)
      return { exceeded: this.refused, tokenCurrent: this.tokenBase, tokenTtl: Math.max(0, this.tokenEnd - now), stackCurrent: this.stackBase, stackTtl: Math.max(0, this.stackEnd - now) }
    return undefined
  }

  /**
   * How many units to ask for at `now`: twice the last slice when it ran out within its window
   * (demand is higher than it was), else what the previous window spent, or 1 after an idle gap.
   */
  want(now: number): number {
    let w: number
    if (now < this.until) w = this.units * 2
    else {
      w = now < this.until + WINDOW_MS ? this.demand : 1
      this.demand = 0
    }
    return Math.min(this.cap, Math.max(1, w))
  }

  /** Records a reservation sent at `sent` that got `granted` units. */
  granted(sent: number, granted: number, r: Reserved, tokenMax: number): void {
    this.tokenEnd = sent + r.tokenTtl
    this.stackEnd = sent + r.stackTtl
    this.units = granted
    this.used = 0
    this.tokenBase = r.tokenCount - granted
    this.stackBase = r.stackCount - granted
    if (granted > 0) {
      this.refused = undefined
      this.until = Math.min(this.tokenEnd, this.stackEnd)
      return
    }
    this.until = 0
    this.refused = r.tokenCount >= tokenMax ? 'token' : 'stack'
    this.refusedUntil = this.refused === 'token' ? this.tokenEnd : this.stackEnd
  }
}
