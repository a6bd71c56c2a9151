import type { UsageStore } from './port.js'
import { UsageRecorder } from './recorder.js'

export interface UsageOptions {
  readonly store: UsageStore
  /** ms since epoch, read per decision; default: the wall clock, read once a minute (recorder.ts). */
  readonly now?: (() => number) | undefined
  /** How often the aggregate is written to the store (USAGE_FLUSH_MS). */
  readonly flushMs: number
  /** Most entries (token x minute) held between flushes; more flushes early. */
  readonly maxEntries?: number
  /** A failed flush: its counts are kept for the next one while the bound allows. */
  readonly onError?: (error: unknown, dropped: number) => void
  /** A flush that wrote its counts. */
  readonly onFlushed?: () => void
  /** Run the flush timer; default: setInterval, not keeping the process alive. */
  readonly timer?: boolean
  /** Count decisions (default true); off, the instance only reads what others recorded. */
  readonly recording?: boolean
}

/** What the management routes read: counts and last uses from the shared store. */
export type UsageReads = Pick<UsageStore, 'buckets' | 'lastUse'>

export interface Usage extends UsageReads {
  /** Undefined when recording is off (USAGE_RECORDING=false): this instance only reads. */
  readonly recorder: UsageRecorder | undefined
  /** Writes what was counted so far (one flush at a time; a second call waits for the first, then flushes again). */
  flush(): Promise<void>
  /** Stops the timer, flushes, closes the store. */
  close(): Promise<void>
}

/** Default bound: entries are about 200 bytes, so the aggregate stays within a few MB. */
export const MAX_ENTRIES = 20_000

/**
 * The recorder and its flush: every `flushMs`, and early when the aggregate reaches its bound,
 * the entries are taken (the aggregate starts empty) and added to the store in one write. A
 * crash loses what was counted since the last flush of this instance, at most `flushMs` of it.
 */
export const openUsage = (o: UsageOptions): Usage => {
  let running: Promise<void> = Promise.resolve()
  let early = false
  const once = async () => {
    if (!recorder) return
    const batch = recorder.take()
    if (batch.length === 0) return
    try {
      await o.store.write(batch)
      o.onFlushed?.()
    } catch (e) {
      o.onError?.(e, recorder.putBack(batch))
    }
  }
  const flush = () => (running = running.then(once))
  const recorder = o.recording === false ? undefined : new UsageRecorder({
    now: o.now,
    maxEntries: o.maxEntries ?? MAX_ENTRIES,
    onFull: () => {
      if (early) return
      early = true
      setImmediate(() => {
        early = false
        void flush()
      })
    },
  })
  const timer = o.timer === false || !recorder ? undefined : setInterval(() => void flush(), o.flushMs)
  timer?.unref()
  return {
    recorder,
    flush,
    buckets: (size, uids, from, to) => o.store.buckets(size, uids, from, to),
    lastUse: (uids) => o.store.lastUse(uids),
    async close() {
      if (timer) clearInterval(timer)
      await flush()
      await o.store.close()
    },
  }
}
