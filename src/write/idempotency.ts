import type { EventMetadata } from '../domain/events.js'

/** How long an `Idempotency-Key` is remembered: 24 hours. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600 * 1000

/**
 * What a command carries when its request had an `Idempotency-Key`, written into the metadata
 * of every event it appends. Both are SHA-256 hex digests: `key` of (stack, caller, key), which
 * names the key; `request` of (method, route, parameters, body), which says what it was used
 * for. Neither the body nor anything secret is kept, only the digests.
 */
export interface IdempotencyMark {
  readonly key: string
  readonly request: string
}

export type PriorUse =
  | { readonly kind: 'none' }
  /** The same request was decided before: the revisions of its events, in order. */
  | { readonly kind: 'same'; readonly revisions: readonly number[] }
  | { readonly kind: 'other' }

/** Uses are kept for twice the window: a clock that steps back a little still finds what it should. */
const KEPT_MS = 2 * IDEMPOTENCY_WINDOW_MS

interface Use {
  readonly request: string
  readonly at: number
  readonly revision: number
}

/**
 * The keys used in one stack's stream, kept beside its folded state so that a command looks its
 * key up instead of scanning the whole stream. Because the lookup and the append are against one
 * stream revision, two instances racing with one key are ordered by the store: the loser's
 * append conflicts, it reads the winner's events and finds the key here.
 */
export class KeyUses {
  /** Key -> its uses; a key moves to the end when used, so the front holds the stalest. */
  private readonly uses = new Map<string, Use[]>()
  private count = 0

  /** Uses remembered (for the cache's budget). */
  get size(): number {
    return this.count
  }

  add(metadata: EventMetadata, revision: number): void {
    const mark = metadata.idempotency
    if (!mark) return
    const at = Date.parse(metadata.occurred_at)
    const before = this.uses.get(mark.key) ?? []
    const uses = before.filter((u) => !(u.at < at - KEPT_MS))
    this.uses.delete(mark.key)
    uses.push({ request: mark.request, at, revision })
    this.uses.set(mark.key, uses)
    this.count += uses.length - before.length
  }

  lookup(mark: IdempotencyMark, now: Date): PriorUse {
    const since = now.getTime() - IDEMPOTENCY_WINDOW_MS
    this.forgetBefore(now.getTime() - KEPT_MS)
    const uses = (this.uses.get(mark.key) ?? []).filter((u) => !(u.at < since))
    if (uses.some((u) => u.request !== mark.request)) return { kind: 'other' }
    return uses.length === 0 ? { kind: 'none' } : { kind: 'same', revisions: uses.map((u) => u.revision) }
  }

  private forgetBefore(cutoff: number): void {
    for (const [key, uses] of this.uses) {
      if (!((uses[uses.length - 1] as Use).at < cutoff)) return
      this.uses.delete(key)
      this.count -= uses.length
    }
  }
}
