import { checkLocal, type ClassLimits, countFailure, type LimitCheck, LocalCounters, type MaybePromise } from './rate-limits.js'

/** Where rate limits are counted: in the counters every instance shares, or in this instance's memory. */
export type LimitsMode = 'shared' | 'local'

/** Shared counting, whatever implements it (Redis today): the limiter never looks inside. */
export interface SharedCounting {
  check(l: ClassLimits): MaybePromise<LimitCheck>
  countFailure(clientAddress: string, limit: number): MaybePromise<Failures>
  /** Settles once the shared counters answer (or fail to): what the background probe asks. */
  probe(): Promise<unknown>
}
export type Failures = { throttled: boolean; retryAfter: number }

/** When to probe again; the shape of the reactor's scheduler, so tests drive both the same way. */
export interface Scheduler {
  after(delayMs: number, run: () => void): () => void
}
const timers: Scheduler = {
  after(delayMs, run) {
    const h = setTimeout(run, delayMs)
    h.unref()
    return () => clearTimeout(h)
  },
}

export interface LimiterOptions {
  readonly scheduler?: Scheduler
  /** Between two probes while shared counting is off (default 1 s: one PING a second). */
  readonly probeEveryMs?: number
  /** Every failed call to the shared counters (a request's or a probe's). */
  readonly onFailure?: (error: unknown) => void
  /** The mode changed: to `local` with the failure that opened the circuit, back to `shared`. */
  readonly onChange?: (mode: LimitsMode, cause?: unknown) => void
  /** The local counters' clock (Date.now()). */
  readonly now?: () => number
}

export interface Limiter {
  check(l: ClassLimits): MaybePromise<LimitCheck>
  countFailure(clientAddress: string, limit: number): MaybePromise<Failures>
  mode(): LimitsMode
  /**
   * The shared counters are known to be unreachable (their connection closed): local from now,
   * rather than after a count has waited for its own failure.
   */
  down(cause: unknown): void
  /** Stops probing. */
  close(): void
}

/**
 * A circuit around shared counting. Closed, every count goes to the shared counters; the first
 * failure opens it, and from then on counts are taken synchronously from this instance's
 * LocalCounters (each instance enforcing the whole limit: docs/limits.md), so no decision waits
 * on a counter that has stopped answering. A request whose shared count fails is counted locally
 * too, never let through uncounted. While open, a probe runs off the request path every
 * `probeEveryMs`; the first one answered closes the circuit. Without shared counting it is
 * always local.
 */
export const limiter = (shared: SharedCounting | undefined, o: LimiterOptions = {}): Limiter => {
  const local = new LocalCounters()
  const now = o.now ?? Date.now
  const scheduler = o.scheduler ?? timers
  let open = shared === undefined
  let cancel: (() => void) | undefined
  let closed = false

  const fail = (e: unknown) => {
    o.onFailure?.(e)
    if (open || closed) return
    open = true
    o.onChange?.('local', e)
    probeLater()
  }
  const probeLater = () => {
    cancel = scheduler.after(o.probeEveryMs ?? 1000, () => {
      cancel = undefined
      ;(shared as SharedCounting).probe().then(
        () => {
          if (closed) return
          open = false
          o.onChange?.('shared')
        },
        (e: unknown) => {
          o.onFailure?.(e)
          if (!closed) probeLater()
        },
      )
    })
  }

  return {
    check(l) {
      if (open) return checkLocal(local, l, now())
      const c = (shared as SharedCounting).check(l)
      if (!(c instanceof Promise)) return c
      return c.catch((e: unknown) => {
        fail(e)
        return checkLocal(local, l, now())
      })
    },
    countFailure(clientAddress, limit) {
      if (open) return countFailure(local, clientAddress, limit)
      const c = (shared as SharedCounting).countFailure(clientAddress, limit)
      if (!(c instanceof Promise)) return c
      return c.catch((e: unknown) => {
        fail(e)
        return countFailure(local, clientAddress, limit)
      })
    },
    mode: () => (open ? 'local' : 'shared'),
    down(cause) {
      if (!open) fail(cause)
    },
    close() {
      closed = true
      cancel?.()
    },
  }
}
