import type { Redis } from 'ioredis'
import { AheadOfWindows, type Listed } from './ahead.js'
import { type Grant, Lease, SLICE_DIVISOR, windowOf } from './lease.js'
import { type ClassLimits, type LimitCheck, type LimitStore, type MaybePromise, redisStore, WINDOW_MS } from './rate-limits.js'
import { COMMAND, RESERVE, type Reserve } from './reserve-script.js'

/** Pairs per script call: a long script would hold Redis (and every other client) meanwhile. */
const CHUNK = 500

interface Pending {
  readonly l: ClassLimits
  readonly lease: Lease
  readonly want: number
  readonly done: () => void
  readonly failed: (e: unknown) => void
}

export interface SharedOptions {
  readonly now?: () => number
  /** Runs the reservation ahead of the next window (default: an unref'd setTimeout). */
  readonly after?: (delayMs: number, run: () => void) => void
}
const timeout = (delayMs: number, run: () => void) => void setTimeout(run, delayMs).unref()

/**
 * Counters shared by every instance through one Redis, in windows aligned to the clock. A request
 * spends a unit of its token's Lease (lease.ts) with no round trip; a lease with nothing left
 * reserves a slice of both budgets (the requests of one event-loop turn in one script call,
 * reserve-script.ts). Before a window ends, every lease spent in it reserves a slice of the next
 * window in the background (ahead.ts), so a token in steady use never waits for Redis. Redis grants no more than a
 * window's limit in total, so no window admits more than a limit across all instances; units
 * reserved and not spent are what an instance under-admits. Instances must agree on the time to
 * well within a window (NTP). Failed authentications go through @fastify/rate-limit's RedisStore.
 */
export class SharedCounters implements LimitStore {
  private readonly store: LimitStore
  private readonly script: Reserve
  private readonly leases = new WeakMap<ClassLimits, Lease>()
  private readonly now: () => number
  private batch: Pending[] = []
  private batchIndex = 0
  private readonly ahead: AheadOfWindows

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    options: SharedOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now())
    this.ahead = new AheadOfWindows(options.after ?? timeout, (index, listed) => this.reserveAhead(index, listed))
    this.store = redisStore(redis, prefix)
    const commands = redis as unknown as Record<string, Reserve | undefined>
    if (commands[COMMAND] === undefined) redis.defineCommand(COMMAND, { lua: RESERVE })
    this.script = (commands[COMMAND] as Reserve).bind(redis)
  }

  /** The hash holding window `index`'s counts. */
  windowKey(index: number): string {
    return `${this.prefix}w:${index}`
  }

  both(l: ClassLimits): MaybePromise<LimitCheck> {
    let lease = this.leases.get(l)
    if (lease === undefined) {
      lease = new Lease(Math.max(1, Math.floor(Math.min(l.tokenMax, l.stackMax) / SLICE_DIVISOR)))
      this.leases.set(l, lease)
    }
    return this.spend(l, lease)
  }

  private spend(l: ClassLimits, lease: Lease): MaybePromise<LimitCheck> {
    const now = this.now()
    const check = lease.spend(now)
    if (check !== undefined) {
      if (check.exceeded === undefined) this.ahead.keep(l, lease, windowOf(now), now)
      return check
    }
    lease.pending ??= this.reserve(l, lease, windowOf(now))
    return lease.pending.then(() => this.spend(l, lease))
  }

  /** Reserves window `index + 1` for the leases spent in `index`, a chunk at a time. */
  private reserveAhead(index: number, listed: Listed): void {
    // Nothing is queued for a Redis that is away: the requests of the next window find out.
    if (this.redis.status !== 'ready') return
    const pairs = [...listed].map(([lease, l]): Pending => ({ l, lease, want: lease.wantNext(index), done: noop, failed: noop }))
    const send = (from: number): void => {
      if (from >= pairs.length) return
      // A failure here is left to the requests of the next window: theirs open the circuit.
      this.send(index + 1, pairs.slice(from, from + CHUNK)).then(() => send(from + CHUNK), noop)
    }
    send(0)
  }

  /** Joins this turn of the event loop's batch: one script call for every lease found empty. */
  private reserve(l: ClassLimits, lease: Lease, index: number): Promise<void> {
    if (this.batch.length > 0 && this.batchIndex !== index) this.flush()
    const want = lease.want(index)
    return new Promise<void>((done, failed) => {
      if (this.batch.length === 0) {
        this.batchIndex = index
        setImmediate(this.flush)
      }
      this.batch.push({ l, lease, want, done, failed })
    }).finally(() => {
      lease.pending = undefined
    })
  }

  private readonly flush = (): void => {
    const batch = this.batch
    if (batch.length === 0) return
    this.batch = []
    this.send(this.batchIndex, batch).catch(noop)
  }

  private send(index: number, batch: readonly Pending[]): Promise<void> {
    const args: Array<string | number> = [(index + 2) * WINDOW_MS - this.now()]
    for (const p of batch) args.push(p.l.tokenKey, p.l.stackKey, p.want, p.l.tokenMax, p.l.stackMax)
    return this.script(1, this.windowKey(index), ...args).then(
      (r) => {
        const now = windowOf(this.now())
        batch.forEach((p, i) => {
          const grant: Grant = { index, granted: r[i * 3] as number, tokenCount: r[i * 3 + 1] as number, stackCount: r[i * 3 + 2] as number }
          p.lease.granted(grant, now, p.l.tokenMax, p.l.stackMax)
          p.done()
        })
      },
      (e: unknown) => {
        for (const p of batch) p.failed(e)
        throw e
      },
    )
  }

  incr: LimitStore['incr'] = (key, cb, timeWindow, max) => this.store.incr(key, cb, timeWindow, max)
  read: LimitStore['read'] = (key, cb, timeWindow, max) => this.store.read(key, cb, timeWindow, max)
}

const noop = (): void => {}
