import { MINUTE_MS, type TokenMinute, type UsageOutcome } from './port.js'

/**
 * One token's decisions in one minute on this instance. A class with every field set in the
 * constructor, so that every entry has one hidden class and a decision only adds to numbers.
 * The last uses are kept as whole milliseconds into the minute (-1: none), small integers that V8
 * stores in the object itself: a time since the epoch is a double, kept in a box of its own, one
 * more memory access per decision.
 */
class Entry implements TokenMinute {
  allowed = 0
  denied = 0
  rate_limited = 0
  expired = 0
  revoked = 0
  lastIn = -1
  lastFrom: string | null = null
  previousIn = -1
  constructor(
    readonly token_uid: string,
    readonly minute: number,
    /** The recorder's `turn` it was made in: an entry of an earlier one is no longer counted into. */
    readonly turn: number,
  ) {}
  get lastAt(): number {
    return this.lastIn < 0 ? 0 : this.minute + this.lastIn
  }
  get previousAt(): number {
    return this.previousIn < 0 ? 0 : this.minute + this.previousIn
  }
}

/**
 * What a decision is counted for: the token's uid, and a slot in which the recorder keeps that
 * token's entry for the current minute. The authorizer's cached token row is one, so a decision
 * reaches its entry through the row it holds anyway, with no lookup by uid: measured in process,
 * that lookup (a map of every token used this minute, a few cache misses among a decision's other
 * work) cost several times what counting does once the entry is found.
 */
export interface Counted {
  readonly token_uid: string
  /** The recorder's; undefined until the token's first decision. */
  usageEntry: object | undefined
}

/** A token to count that has no cached row (a revoked one's, say): found by uid. */
export const countedAs = (token_uid: string): Counted => ({ token_uid, usageEntry: undefined })

/** What the authorizer calls once per decision about a known token. */
export interface UsageSink {
  /**
   * `from`: the trusted client address of an allowed request (the same string the request
   * carried: nothing is copied); `previous`: the secret used was a rotated-out one, still in its
   * grace; `at`: the decision's performance.now(), which the authorizer reads anyway.
   */
  note(token: Counted, outcome: UsageOutcome, from: string | undefined, previous: boolean, at: number): void
}

export interface RecorderOptions {
  /**
   * ms since epoch, read per decision: a clock handed in (tests). Without it the time is the
   * decision's `at` plus the offset of the wall clock, read again at each new minute, so that a
   * decision costs no clock read of its own.
   */
  readonly now?: (() => number) | undefined
  /** Most entries (token x minute) held between flushes; reaching it calls `onFull` once. */
  readonly maxEntries: number
  /** Asks for an early flush (called once until the next `take`). */
  readonly onFull?: () => void
}

let turnsEver = 0

/**
 * The per-instance aggregate: a map from token uid to its entry for the current minute, and the
 * entries of minutes already over, waiting for the flush. O(1) per decision; an allocation only
 * for a token's first decision in a minute. Nothing is keyed by client address: an entry keeps
 * only the address of its last allowed request. `take` hands everything over and starts empty,
 * so memory is at most `maxEntries` entries (plus what arrives before the early flush runs).
 */
export class UsageRecorder implements UsageSink {
  private current = new Map<string, Entry>()
  private minute = -1
  private over: Entry[] = []
  private held = 0
  private full = false
  private offset = Date.now() - performance.now()
  private nextMinute = -1
  /** This recorder's current turn (`turn`): an entry kept in a `Counted` slot is current only if made in it. */
  private turns = 0

  constructor(private readonly options: RecorderOptions) {}

  note(token: Counted, outcome: UsageOutcome, from: string | undefined, previous: boolean, at: number): void {
    let now = this.options.now ? this.options.now() : at + this.offset
    if (now >= this.nextMinute || now < this.minute) {
      if (!this.options.now) {
        this.offset = Date.now() - performance.now()
        now = at + this.offset
      }
      const minute = now - (now % MINUTE_MS)
      if (minute !== this.minute) this.turn(minute)
    }
    let e = token.usageEntry as Entry | undefined
    if (e === undefined || e.turn !== this.turns) {
      e = this.current.get(token.token_uid) ?? this.added(token.token_uid)
      token.usageEntry = e
    }
    switch (outcome) {
      case 'allowed': {
        const into = Math.floor(now - this.minute)
        e.allowed += 1
        e.lastIn = into
        e.lastFrom = from ?? null
        if (previous) e.previousIn = into
        return
      }
      case 'denied':
        e.denied += 1
        return
      case 'rate_limited':
        e.rate_limited += 1
        return
      case 'expired':
        e.expired += 1
        return
      case 'revoked':
        e.revoked += 1
        return
    }
  }

  /** The token's entry for the current minute, new. */
  private added(tokenUid: string): Entry {
    const e = new Entry(tokenUid, this.minute, this.turns)
    this.current.set(tokenUid, e)
    if (++this.held >= this.options.maxEntries && !this.full) {
      this.full = true
      this.options.onFull?.()
    }
    return e
  }

  /** Entries held now (token x minute): what the memory bound is about. */
  get size(): number {
    return this.held
  }

  /** Everything counted since the last take, oldest minute first; the aggregate starts empty. */
  take(): TokenMinute[] {
    this.turn(-1)
    const taken = this.over
    this.over = []
    this.held = 0
    this.full = false
    return taken
  }

  /** Puts back a batch the store refused, as long as the bound allows; returns how many were dropped. */
  putBack(batch: readonly TokenMinute[]): number {
    const room = Math.max(0, this.options.maxEntries - this.held)
    const kept = batch.slice(batch.length - Math.min(room, batch.length))
    for (const e of kept) this.over.push(e as Entry)
    this.held += kept.length
    return batch.length - kept.length
  }

  private turn(minute: number): void {
    // Numbered across every recorder of the process, so that no recorder takes another's entry for its own.
    this.turns = ++turnsEver
    if (this.current.size > 0) {
      for (const e of this.current.values()) this.over.push(e)
      this.current = new Map()
    }
    this.minute = minute
    this.nextMinute = minute < 0 ? -1 : minute + MINUTE_MS
  }
}
