import type { DomainEvent } from '../src/domain/events.js'

/** What the expiry reactor keeps per token: enough to know when something is due. */
export interface ScheduledToken {
  readonly api_key: string
  readonly token_uid: string
  readonly name: string
  readonly expires_on: string | null
  readonly notify: boolean
  readonly revoked: boolean
  /** The expiry value a notice was recorded for (by any instance). */
  readonly notified_for: string | null
  /** The expiry value this instance has already announced as reached (the derived `token.expired`). */
  readonly expired_for: string | null
}

/** The schedule's evolve: a token's row after an event (undefined: the event does not concern a token row). */
export const evolveSchedule = (row: ScheduledToken | undefined, event: DomainEvent): ScheduledToken | undefined => {
  if (event.type === 'TokenGenerated') {
    const d = event.data
    return {
      api_key: d.api_key,
      token_uid: d.token_uid,
      name: d.name,
      expires_on: d.expires_on,
      notify: d.is_email_notification_enabled,
      revoked: false,
      notified_for: null,
      expired_for: null,
    }
  }
  if (!row) return undefined
  switch (event.type) {
    case 'TokenRenamed':
      return { ...row, name: event.data.name }
    case 'TokenExpiryChanged':
      return { ...row, expires_on: event.data.expires_on }
    case 'TokenNotificationChanged':
      return { ...row, notify: event.data.is_email_notification_enabled }
    case 'TokenRevoked':
      return { ...row, revoked: true }
    case 'TokenExpiryNotified':
      return { ...row, notified_for: event.data.expires_on }
    default:
      return row
  }
}

export interface DueWork {
  /** Tokens whose notice is due now: record it (the domain has the last word). */
  readonly notices: readonly ScheduledToken[]
  /** Tokens that have just expired: announce `token.expired` once per expiry value. */
  readonly expirations: readonly ScheduledToken[]
}

/**
 * The reactor's decision, pure: a notice is due from `expires_on - notifyBeforeMs` until the token
 * expires (a moment missed while the service was down is still due when it comes back, unless the
 * token has expired meanwhile); an expiry is due from `expires_on` on.
 */
export const dueWork = (rows: readonly ScheduledToken[], now: number, notifyBeforeMs: number): DueWork => {
  const notices: ScheduledToken[] = []
  const expirations: ScheduledToken[] = []
  for (const r of rows) {
    if (r.revoked || r.expires_on === null) continue
    const expires = Date.parse(r.expires_on)
    if (now >= expires) {
      if (r.expired_for !== r.expires_on) expirations.push(r)
    } else if (r.notify && r.notified_for !== r.expires_on && now >= expires - notifyBeforeMs) notices.push(r)
  }
  return { notices, expirations }
}
