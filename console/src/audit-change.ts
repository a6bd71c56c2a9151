import { scopeSummary, utc } from './format'
import type { AuditEntry, RateLimit, ScopeEntry } from './types'

/** How the audit table names each token field an update can change. */
const LABEL: Record<string, string> = {
  name: 'name',
  description: 'description',
  scope: 'scope',
  expires_on: 'expiry',
  rate_limit: 'limits',
  is_email_notification_enabled: 'email notification',
  max_lifetime_days: 'max lifetime (days)',
  require_expiry: 'expiry required',
  inactive_days: 'inactivity period (days)',
  default_rotation_grace_seconds: 'default rotation grace (s)',
  allowed_ips: 'allowed addresses',
}

const limitsText = (rl: RateLimit | null): string => (rl ? `read ${rl.read}, write ${rl.write}` : 'plan default')

/** One field's value as a person reads it. */
const valueText = (field: string, v: unknown): string => {
  if (field === 'scope') return scopeSummary(v as ScopeEntry[])
  if (field === 'expires_on') return v === null ? 'never' : utc(v as string)
  if (field === 'rate_limit') return limitsText(v as RateLimit | null)
  if (field === 'is_email_notification_enabled') return v ? 'on' : 'off'
  if (field === 'allowed_ips') return Array.isArray(v) && v.length > 0 ? v.join(', ') : 'any'
  if (v === null) return 'no rule'
  return JSON.stringify(v)
}

/** "limits: read 10 -> 5": only the side of a limit that changed, when both were custom. */
const limitsChange = (before: RateLimit | null, after: RateLimit | null): string => {
  if (!before || !after) return `${limitsText(before)} -> ${limitsText(after)}`
  const sides = (['read', 'write'] as const).filter((s) => before[s] !== after[s])
  return sides.map((s) => `${s} ${before[s]} -> ${after[s]}`).join(', ')
}

/**
 * What an entry changed, one line per field ("limits: read 10 -> 5"), and why a token was revoked.
 * An update recorded before entries kept the old value says only the new one ("limits now ...").
 */
export const changeLines = ({ metadata: m }: AuditEntry): string[] => {
  const lines = (m.changed ?? []).map((field) => {
    const label = LABEL[field] ?? field
    const after = m.after?.[field]
    if (!m.before || !(field in m.before)) return `${label} now ${valueText(field, after)}`
    const before = m.before[field]
    if (field === 'rate_limit') return `${label}: ${limitsChange(before as RateLimit | null, after as RateLimit | null)}`
    return `${label}: ${valueText(field, before)} -> ${valueText(field, after)}`
  })
  if (!m.reason) return lines
  const r = m.report
  // A reporter's words: shown as text (never a link), and whether a configured key signed them.
  const found = r ? ` (reported${r.url ? ` at ${r.url}` : ''}${r.source ? `, ${r.source}` : ''}${r.signed ? ', signed' : ', unsigned'})` : ''
  return [...lines, `reason: ${m.reason}${found}`]
}
