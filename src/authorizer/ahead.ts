import type { Lease } from './lease.js'
import { type ClassLimits, WINDOW_MS } from './rate-limits.js'

/** How long before a window ends the next one's slices are reserved; again for the leases spent since. */
export const AHEAD_MS = 300
const LATE_MS = 100

export type Listed = ReadonlyMap<Lease, ClassLimits>

/**
 * The leases spent in the current window, each listed once, and the reservation ahead of the
 * next window for them: armed by the first lease listed, AHEAD_MS before the window ends, or
 * LATE_MS before it for leases first spent after that pass. A lease listed in a window that
 * has ended is not reserved for.
 */
export class AheadOfWindows {
  private listed = new Map<Lease, ClassLimits>()
  private index = -1
  private armed = false

  constructor(
    private readonly after: (delayMs: number, run: () => void) => void,
    /** Reserves window `index + 1` for the leases listed in `index`. */
    private readonly reserve: (index: number, listed: Listed) => void,
  ) {}

  keep(l: ClassLimits, lease: Lease, index: number, now: number): void {
    if (lease.keptIn === index || index < this.index) return
    lease.keptIn = index
    if (index > this.index) {
      this.listed = new Map()
      this.index = index
      this.armed = false
    }
    this.listed.set(lease, l)
    if (this.armed) return
    this.armed = true
    const end = (index + 1) * WINDOW_MS
    const at = now < end - AHEAD_MS ? end - AHEAD_MS : end - LATE_MS
    this.after(Math.max(0, at - now), () => this.run(index))
  }

  private run(index: number): void {
    if (this.index !== index) return
    const listed = this.listed
    this.listed = new Map()
    this.armed = false
    this.reserve(index, listed)
  }
}
