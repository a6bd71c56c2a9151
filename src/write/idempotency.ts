import type { Recorded } from '../domain/events.js'

/** How long an `Idempotency-Key` is remembered (SPEC 5.2). */
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
  /** The same request was decided before: these are its events, `upTo` the last one's index. */
  | { readonly kind: 'same'; readonly events: readonly Recorded[]; readonly upTo: number }
  | { readonly kind: 'other' }

/**
 * Looks for the key in the stream the command reads anyway. Because the check and the append
 * are against one stream revision, two instances racing with one key are ordered by the store:
 * the loser's append conflicts, it reads again and finds the winner's events here.
 */
export const priorUse = (records: readonly Recorded[], mark: IdempotencyMark, now: Date): PriorUse => {
  const since = now.getTime() - IDEMPOTENCY_WINDOW_MS
  const events: Recorded[] = []
  let upTo = -1
  let other = false
  records.forEach((r, i) => {
    const m = r.metadata.idempotency
    if (m?.key !== mark.key || Date.parse(r.metadata.occurred_at) < since) return
    if (m.request !== mark.request) {
      other = true
      return
    }
    events.push(r)
    upTo = i
  })
  if (other) return { kind: 'other' }
  return upTo < 0 ? { kind: 'none' } : { kind: 'same', events, upTo }
}
