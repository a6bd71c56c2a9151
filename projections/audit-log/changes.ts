import { UPDATED_FIELDS } from '../../src/domain/audit.js'
import type { DomainEvent } from '../../src/domain/events.js'

/** What an entry says about its change, each as stored (JSON text) or null. */
export type ChangeColumns = {
  /** The fields an update changed, as a JSON array of names. */
  readonly changed: string | null
  /** Those fields' values before and after, as JSON objects; never a secret or its hash. */
  readonly before: string | null
  readonly after: string | null
  /** Why a token was revoked. */
  readonly reason: string | null
  /** For a leaked token's revocation, where the secret was reported found (JSON `{url, source, signed}`). */
  readonly report: string | null
}

const NO_CHANGE: ChangeColumns = { changed: null, before: null, after: null, reason: null, report: null }

const pick = (o: object, fields: readonly string[]) => Object.fromEntries(fields.map((f) => [f, (o as Record<string, unknown>)[f]]))

/**
 * What an update, a revocation or nothing else changed, from the event alone: an update event
 * carries the values it replaced (`before`). A rename recorded without them takes the token's
 * name and description before it from `title` (its latest naming event); other updates recorded
 * without them say what changed and to what, not from what.
 */
export const changeOf = (event: DomainEvent, title: readonly [string, string] | undefined): ChangeColumns => {
  if (event.type === 'TokenRevoked')
    return { ...NO_CHANGE, reason: event.data.reason ?? 'user', report: event.data.report ? JSON.stringify(event.data.report) : null }
  if (event.type === 'TokenRenamed') {
    const d = event.data
    const was = d.before ?? { name: title?.[0] ?? '', description: title?.[1] ?? '' }
    const fields = (['name', 'description'] as const).filter((f) => was[f] !== d[f])
    return { changed: JSON.stringify(fields), before: JSON.stringify(pick(was, fields)), after: JSON.stringify(pick(d, fields)), reason: null, report: null }
  }
  const fields = UPDATED_FIELDS[event.type]
  if (!fields) return NO_CHANGE
  const before = 'before' in event.data ? event.data.before : undefined
  return { changed: JSON.stringify(fields), before: before === undefined ? null : JSON.stringify(pick(before, fields)), after: JSON.stringify(pick(event.data, fields)), reason: null, report: null }
}
