import type { Token } from './types.js'

const DAY = 86_400_000
/** A token that expires within this is flagged "Expires soon" (the expiry notice's 7 days). */
export const EXPIRING_WITHIN_MS = 7 * DAY
/** A token with no allowed request for this long is flagged "Unused 30+ days". */
export const IDLE_AFTER_MS = 30 * DAY

export type Flag = 'expired' | 'expiring' | 'never-used' | 'idle'

export const FLAG_LABEL: Record<Flag, string> = {
  expired: 'Expired',
  expiring: 'Expires soon',
  'never-used': 'Never used',
  idle: 'Unused 30+ days',
}

/** What needs an owner's attention: expired or expiring within 7 days; never used, or not for 30 days. */
export const flags = (t: Token, now: number): Flag[] => {
  const out: Flag[] = []
  if (t.expires_on !== null) {
    const left = Date.parse(t.expires_on) - now
    if (left <= 0) out.push('expired')
    else if (left <= EXPIRING_WITHIN_MS) out.push('expiring')
  }
  const used = t.last_used_at ?? null
  if (used === null) out.push('never-used')
  else if (now - Date.parse(used) >= IDLE_AFTER_MS) out.push('idle')
  return out
}

export type SortKey = 'name' | 'expiry' | 'last-used'
export interface Sort {
  readonly key: SortKey
  readonly ascending: boolean
}

/**
 * Ascending: names A to Z; expiry soonest first, "never" last; last use oldest first, "never
 * used" before any use (so that the tokens to look at come first). Ties keep name order.
 */
const value = (t: Token, key: SortKey): number => {
  if (key === 'expiry') return t.expires_on === null ? Number.POSITIVE_INFINITY : Date.parse(t.expires_on)
  if (key === 'last-used') return t.last_used_at ? Date.parse(t.last_used_at) : Number.NEGATIVE_INFINITY
  return 0
}

const byName = (a: Token, b: Token) => a.name.localeCompare(b.name, 'en', { sensitivity: 'base', numeric: true })

export const sortTokens = (list: readonly Token[], sort: Sort): Token[] => {
  const dir = sort.ascending ? 1 : -1
  return [...list].sort((a, b) => {
    if (sort.key === 'name') return dir * byName(a, b)
    const va = value(a, sort.key)
    const vb = value(b, sort.key)
    return va === vb ? byName(a, b) : dir * (va < vb ? -1 : 1)
  })
}

/** Tokens whose name holds `query` (case-insensitive, surrounding spaces ignored). */
export const filterByName = (list: readonly Token[], query: string): Token[] => {
  const q = query.trim().toLowerCase()
  return q ? list.filter((t) => t.name.toLowerCase().includes(q)) : [...list]
}

/** Clicking the sorted column's header turns its order round; another column starts ascending. */
export const nextSort = (current: Sort, key: SortKey): Sort => (current.key === key ? { key, ascending: !current.ascending } : { key, ascending: true })
