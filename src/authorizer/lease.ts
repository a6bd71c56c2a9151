import type { LimitCheck } from './rate-limits.js'
import { WINDOW_MS } from './rate-limits.js'

/**
 * A slice is at most this fraction of the smaller of a request's two limits: what one instance can
 * hold unspent when a window ends, so n instances under-admit at most n / SLICE_DIVISOR of a limit
 * per window (three instances: under 10 %).
 */
export const SLICE_DIVISOR = 32

/** The window a time falls in: windows are aligned to the clock, the same on every instance. */
export const windowOf = (now: number): number => Math.floor(now / WINDOW_MS)

/** What a reservation in window `index` got: `granted` units, and both counts after it. */
export interface Grant {
  readonly index: number
  readonly granted: number
  readonly tokenCount: number
  readonly stackCount: number
}

/** Units of one window: how many were reserved, how many spent, what the counts stood at. */
class Slot {
  used = 0
  /** The latest grant's size: a slice that ran out asks for twice as much. */
  last: number
  constructor(
    readonly index: number,
    public units: number,
    /** The counts before this slot's first unit: a unit's count is base + used. */
    public tokenBase: number,
    public stackBase: number,
    public refused: 'token' | 'stack' | undefined,
  ) {
    this.last = units
  }

  static of(g: Grant, refused: Slot['refused']): Slot {
    return new Slot(g.index, g.granted, g.tokenCount - g.granted, g.stackCount - g.granted, refused)
  }

  /** Adds a later grant of the same window (after the slot ran out, or a prefetch landing late). */
  add(g: Grant, refused: Slot['refused']): void {
    this.units += g.granted
    this.last = g.granted
    this.tokenBase = g.tokenCount - g.granted - this.used
    this.stackBase = g.stackCount - g.granted - this.used
    this.refused = g.granted > 0 ? undefined : refused
  }
}

/**
 * One token's slices of its two windows (token and stack, one access class) on this instance:
 * units reserved in Redis for the current window and, reserved ahead in the background, for the
 * next one, spent here without a round trip. A window that granted nothing is refused from memory
 * until it ends (no unit is ever handed back, so it stays spent). Times are Date.now() ms.
 */
export class Lease {
  pending: Promise<void> | undefined = undefined
  /** The window in which this lease was last listed for a reservation ahead of the next one. */
  keptIn = -1
  private current: Slot | undefined = undefined
  private next: Slot | undefined = undefined
  /** Units spent in window `demandIndex`, and in the window before it. */
  private demandIndex = -1
  private demand = 0
  private lastDemand = 0
  /** Both budgets less than half spent at the last grant. */
  private roomy = false

  constructor(readonly cap: number) {}

  /** A unit spent at `now`, a refusal still known, or undefined: reserve first. */
  spend(now: number): LimitCheck | undefined {
    const index = windowOf(now)
    let s = this.current
    if (s === undefined || s.index !== index) {
      s = this.next !== undefined && this.next.index === index ? this.next : undefined
      this.current = s
      if (s !== undefined || (this.next !== undefined && this.next.index < index)) this.next = undefined
      if (s === undefined) return undefined
    }
    const ttl = (index + 1) * WINDOW_MS - now
    if (s.used < s.units) {
      s.used += 1
      this.count(index)
      return { exceeded: undefined, tokenCurrent: s.tokenBase + s.used, tokenTtl: ttl, stackCurrent: s.stackBase + s.used, stackTtl: ttl }
    }
    if (s.refused === undefined) return undefined
    return { exceeded: s.refused, tokenCurrent: s.tokenBase + s.used, tokenTtl: ttl, stackCurrent: s.stackBase + s.used, stackTtl: ttl }
  }

  private count(index: number): void {
    if (index !== this.demandIndex) {
      this.lastDemand = index === this.demandIndex + 1 ? this.demand : 0
      this.demand = 0
      this.demandIndex = index
    }
    this.demand += 1
  }

  /** Spent anything in window `index`: worth a slice of the next one reserved ahead. */
  active(index: number): boolean {
    return this.demandIndex === index
  }

  /**
   * How many units to ask for in window `index`: twice the slice when it ran out within its
   * window (demand is higher than it was), else what the previous window spent, or 1 after a gap.
   */
  want(index: number): number {
    const s = this.current
    const w = s !== undefined && s.index === index ? s.last * 2 : index === this.demandIndex + 1 ? this.demand : this.demandIndex === index ? this.lastDemand : 0
    return Math.min(this.cap, Math.max(1, w))
  }

  /**
   * Ahead of window `index + 1`, while `index` is spent: the larger of its demand so far and the
   * last window's, twice that while both budgets were less than half spent at the last grant (a
   * demand that varies from window to window then finds its units waiting, and spare units
   * deprive no one); exactly that once a budget is filling up, where unspent units would.
   */
  wantNext(index: number): number {
    const w = this.demandIndex === index ? Math.max(this.demand, this.lastDemand) : 0
    return Math.min(this.cap, Math.max(1, this.roomy ? 2 * w : w))
  }

  /**
   * Records a grant received in window `now` (an index): a grant for it is the current slice, one
   * for a later window the slice held ahead, one for a window already over is dropped. The maxima
   * tell which budget refused a grant of nothing, and how full they are.
   */
  granted(g: Grant, now: number, tokenMax: number, stackMax: number): void {
    this.roomy = 2 * g.tokenCount < tokenMax && 2 * g.stackCount < stackMax
    const refused = g.granted > 0 ? undefined : g.tokenCount >= tokenMax ? 'token' : 'stack'
    if (g.index < now) return
    if (g.index === now) {
      if (this.current !== undefined && this.current.index === now) this.current.add(g, refused)
      else this.current = Slot.of(g, refused)
    } else if (this.next !== undefined && this.next.index === g.index) this.next.add(g, refused)
    else this.next = Slot.of(g, refused)
  }
}
