import * as E from 'fp-ts/lib/Either.js'
import type { DecideContext, RecordExpiryNotice } from './commands.js'
import { domainError, type DomainError } from './errors.js'
import type { DomainEvent } from './events.js'
import { managersOf } from './roles.js'
import { hasExpired } from './rules.js'
import type { StackState } from './state.js'

/** Who acts for the service itself: its events carry actor `system`. */
export const SYSTEM_ACTOR = { uid: 'system', email: 'system' } as const

const notDue = (why: string) => domainError('notice-not-due', `No expiry notice is due: ${why}.`)

/** The stack's owner and admins: tokens are stack-level, so their creator may have left. */
export const noticeRecipients = (s: Extract<StackState, { status: 'active' }>): string[] => managersOf(s).sort()

/**
 * One expiry notice per token per expiry value, `notify_before_ms` before it expires, only for a
 * live token that asked for it and has not expired yet. Decided on the stack's stream like any
 * command, so two instances racing to record it cannot both succeed.
 */
export const decideExpiryNotice = (cmd: RecordExpiryNotice, state: StackState, ctx: DecideContext): E.Either<DomainError, DomainEvent[]> => {
  if (cmd.actor.uid !== SYSTEM_ACTOR.uid)
    return E.left(domainError('forbidden', 'Only the service records expiry notices.', { authtoken: ['is not the service'] }))
  if (state.status !== 'active') return E.left(domainError('stack-not-found', 'Stack not found.'))
  const t = state.tokens.get(cmd.token_uid)
  if (!t) return E.left(domainError('token-not-found', 'Management token not found.'))
  if (t.revoked) return E.left(domainError('token-revoked', 'Management token was revoked and can no longer change.'))
  if (!t.is_email_notification_enabled) return E.left(notDue('notifications are off for this token'))
  if (t.expires_on === null || t.expires_on !== cmd.expires_on) return E.left(notDue(`the token no longer expires at ${cmd.expires_on}`))
  if (hasExpired(t.expires_on, ctx.now)) return E.left(notDue('the token has expired'))
  if (ctx.now.getTime() < Date.parse(t.expires_on) - cmd.notify_before_ms) return E.left(notDue('it is too early'))
  if (t.notified_for === t.expires_on)
    return E.left(domainError('notice-already-recorded', `A notice for the expiry ${t.expires_on} was already recorded.`))
  return E.right([
    { type: 'TokenExpiryNotified', data: { api_key: state.api_key, token_uid: t.uid, expires_on: t.expires_on, recipients: noticeRecipients(state) } },
  ])
}
