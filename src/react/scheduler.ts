/**
 * When the reactor wants to run again. Injected, so tests decide when "later" comes (together
 * with a fake clock) instead of waiting for real timers.
 */
export interface Scheduler {
  /** Calls `run` after about `delayMs`; the returned function cancels it. */
  after(delayMs: number, run: () => void): () => void
}

/** setTimeout caps delays at 2^31 - 1 ms; the reactor wakes at least hourly anyway. */
const MAX_DELAY_MS = 3_600_000

export const timerScheduler: Scheduler = {
  after(delayMs, run) {
    const h = setTimeout(run, Math.max(0, Math.min(delayMs, MAX_DELAY_MS)))
    // A pending wake-up never keeps the process alive (serve's server does).
    h.unref()
    return () => clearTimeout(h)
  },
}
