import type Database from 'better-sqlite3'
import { graceRunning } from '../../src/domain/rotation.js'
import type { RateLimit, Scope } from '../../src/domain/scope.js'
import type { TokenRow } from './index.js'

export interface TokenView {
  readonly uid: string
  readonly name: string
  readonly description: string
  readonly scope: Scope
  readonly expires_on: string | null
  readonly rate_limit: RateLimit | null
  readonly is_email_notification_enabled: boolean
  /** Canonical addresses and CIDR ranges the token may be used from; empty: any address. */
  readonly allowed_ips: string[]
  readonly created_by: string
  readonly updated_by: string
  readonly created_at: string
  readonly updated_at: string
  /** When the secret was last rotated, or null. */
  readonly last_rotated_at: string | null
  /** While a rotation grace runs, until when the previous secret keeps working; null otherwise. */
  readonly previous_secret_expires_at: string | null
}

const tokenView = (r: TokenRow, now: Date): TokenView => ({
  uid: r.uid,
  name: r.name,
  description: r.description,
  scope: JSON.parse(r.scope) as Scope,
  expires_on: r.expires_on,
  rate_limit: r.rate_limit === null ? null : (JSON.parse(r.rate_limit) as RateLimit),
  is_email_notification_enabled: r.is_email_notification_enabled === 1,
  allowed_ips: r.allowed_ips === null ? [] : (JSON.parse(r.allowed_ips) as string[]),
  created_by: r.created_by,
  updated_by: r.updated_by,
  created_at: r.created_at,
  updated_at: r.updated_at,
  last_rotated_at: r.rotated_at,
  previous_secret_expires_at: graceRunning(r.grace_until, now) ? r.grace_until : null,
})

/**
 * A stack's live tokens, prepared once per read-model connection. `now` says whether a rotation
 * grace still runs: its end is a moment, not an event.
 */
export const tokenQueries = (db: Database.Database, now: () => Date) => {
  const tokens = db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE api_key = ? AND revoked_at IS NULL ORDER BY created_at, uid')
  const token = db.prepare<[string, string], TokenRow>('SELECT * FROM tokens WHERE api_key = ? AND uid = ? AND revoked_at IS NULL')
  const ever = db.prepare<[string, string], number>('SELECT 1 FROM tokens WHERE api_key = ? AND uid = ?').pluck()
  return {
    /** Whether the stack ever had this token, revoked or not: its usage stays readable after a revocation. */
    tokenEver: (apiKey: string, uid: string): boolean => ever.get(apiKey, uid) !== undefined,
    tokens: (apiKey: string): TokenView[] => tokens.all(apiKey).map((r) => tokenView(r, now())),
    token: (apiKey: string, uid: string): TokenView | undefined => {
      const r = token.get(apiKey, uid)
      return r ? tokenView(r, now()) : undefined
    },
  }
}
