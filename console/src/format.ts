import { MODULES, type RateLimit, type ScopeEntry } from './types.js'

const DAY = 86_400_000
const HOUR = 3_600_000

/** "2026-03-13 14:05 UTC": every time in the console is UTC, like the API. */
export const utc = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`

/** Whether a token has expired at `now` (ms): it stops at its expiry instant, as the service says. */
export const hasExpired = (expiresOn: string | null, now: number): boolean => expiresOn !== null && Date.parse(expiresOn) <= now

/** "Never expires", "Expired", "Expires in 12 days", "Expires in 3 hours". */
export const expiry = (expiresOn: string | null, now: number): string => {
  if (expiresOn === null) return 'Never expires'
  const left = Date.parse(expiresOn) - now
  if (left <= 0) return 'Expired'
  if (left >= DAY) return `Expires in ${plural(Math.floor(left / DAY), 'day')}`
  return `Expires in ${plural(Math.max(1, Math.floor(left / HOUR)), 'hour')}`
}

const label = (id: string) => MODULES.find((m) => m.id === id)?.label ?? id

/** "Read and write: Entries, Assets · Read: Audit log". */
export const scopeSummary = (scope: readonly ScopeEntry[]): string => {
  const rw = scope.filter((s) => s.acl.write).map((s) => label(s.module))
  const r = scope.filter((s) => s.acl.read && !s.acl.write).map((s) => label(s.module))
  const parts = [rw.length ? `Read and write: ${rw.join(', ')}` : '', r.length ? `Read: ${r.join(', ')}` : '']
  return parts.filter(Boolean).join(' · ') || 'No access'
}

/** Branches and aliases a token may act on (only `main` when no entry names branches). */
export const branchSummary = (scope: readonly ScopeEntry[]): string => {
  const branches = scope.flatMap((s) => ((s.module === 'branch' || s.module === '$all') && s.branches ? s.branches : []))
  const aliases = scope.flatMap((s) => ((s.module === 'branch_alias' || s.module === '$all') && s.branch_aliases ? s.branch_aliases : []))
  const b = branches.length ? `Branches: ${[...new Set(branches)].join(', ')}` : 'Branch: main only'
  return aliases.length ? `${b} · Aliases: ${[...new Set(aliases)].join(', ')}` : b
}

export const limits = (rl: RateLimit | null, plan: RateLimit | undefined): string =>
  rl
    ? `${rl.read} reads/s, ${rl.write} writes/s`
    : `Plan default${plan ? ` (${plan.read} reads/s, ${plan.write} writes/s)` : ''}`

/** Splits "main, dev  staging" into ["main", "dev", "staging"]. */
export const list = (text: string): string[] =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean)

/** Tomorrow in UTC, as YYYY-MM-DD: the earliest expiry date the service accepts. */
export const tomorrowUtc = (now: number): string => new Date(now + DAY).toISOString().slice(0, 10)

const MINUTE = 60_000

/** "just now", "5 minutes ago", "3 hours ago", "12 days ago": how long before `now` (ms) `iso` was. */
export const ago = (iso: string, now: number): string => {
  const gone = now - Date.parse(iso)
  if (gone < MINUTE) return 'just now'
  if (gone < HOUR) return `${plural(Math.floor(gone / MINUTE), 'minute')} ago`
  if (gone < DAY) return `${plural(Math.floor(gone / HOUR), 'hour')} ago`
  return `${plural(Math.floor(gone / DAY), 'day')} ago`
}
