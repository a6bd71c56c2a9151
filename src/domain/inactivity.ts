import * as E from 'fp-ts/lib/Either.js'
import type { RecordInactivityNotice, RetireInactiveToken } from './commands.js'
import type { DecideContext } from './commands.js'
import { domainError, type DomainError } from './errors.js'
import type { DomainEvent } from './events.js'
import { noticeRecipients, SYSTEM_ACTOR } from './expiry-notice.js'
import { activeStack, liveToken, type Active } from './guards.js'
import { hasExpired } from './rules.js'
import type { StackState, TokenState } from './state.js'

const DAY_MS = 86_400_000

/**
 * The inactivity rule's one home: a token is as recently active as the latest of its last allowed
 * use, its creation and its last rotation (a new secret has to be rolled out before it can be
 * used). Edits do not count: a rename says nothing about whether anything still uses the token.
 * In ms since epoch; null when nothing is known (a fold without times).
 */
export const lastActivityMs = (activeSinceMs: number | null, lastUsedMs: number | null): number | null =>
  activeSinceMs === null ? lastUsedMs : lastUsedMs === null ? activeSinceMs : Math.max(activeSinceMs, lastUsedMs)

/** When a token last active at `activityMs` is retired under a rule of `days` (before any late notice). */
export const inactiveUntilMs = (activityMs: number, days: number): number => activityMs + days * DAY_MS

const iso = (ms: number) => new Date(ms).toISOString()
const ms = (instant: string | null) => (instant === null ? null : Date.parse(instant))
const notDue = (why: string) => domainError('notice-not-due', `No inactivity retirement is due: ${why}.`)

type Checked = { s: Active; t: TokenState; days: number; activity: number }

/** What both commands check first: the service acts, on a live token of a stack with the rule, whose activity is known. */
const check = (cmd: RecordInactivityNotice | RetireInactiveToken, state: StackState): E.Either<DomainError, Checked> => {
  if (cmd.actor.uid !== SYSTEM_ACTOR.uid) return E.left(domainError('forbidden', 'Only the service retires inactive tokens.', { authtoken: ['is not the service'] }))
  const active = activeStack(state)
  if (E.isLeft(active)) return active
  const s = active.right
  const token = liveToken(s, cmd.token_uid)
  if (E.isLeft(token)) return token
  const t = token.right
  const days = s.policy.inactive_days
  if (days === null) return E.left(notDue('the stack has no inactive_days rule'))
  const activity = lastActivityMs(ms(t.active_since), ms(cmd.last_used_at))
  if (activity === null) return E.left(notDue('the token\'s activity is unknown'))
  return E.right({ s, t, days, activity })
}

/**
 * One notice per cycle (a last activity under one rule), from `notify_before_ms` before the
 * retirement on. A notice that comes late (the service was down) still gives the full
 * `notify_before_ms`: the retirement moves to then. An expired token is left alone (it is
 * refused anyway; extending it does not count as activity).
 */
export const decideInactivityNotice = (cmd: RecordInactivityNotice, state: StackState, ctx: DecideContext): E.Either<DomainError, DomainEvent[]> => {
  const checked = check(cmd, state)
  if (E.isLeft(checked)) return checked
  const { s, t, days, activity } = checked.right
  const now = ctx.now.getTime()
  if (t.expires_on !== null && hasExpired(t.expires_on, ctx.now)) return E.left(notDue('the token has expired'))
  if (t.inactivity_notice?.last_activity_at === iso(activity))
    return E.left(domainError('notice-already-recorded', `An inactivity notice for the activity of ${iso(activity)} was already recorded.`))
  const until = inactiveUntilMs(activity, days)
  if (now < until - cmd.notify_before_ms) return E.left(notDue('it is too early'))
  const retireAt = Math.max(until, now + cmd.notify_before_ms)
  return E.right([
    {
      type: 'TokenInactivityNotified',
      data: { api_key: s.api_key, token_uid: t.uid, last_activity_at: iso(activity), inactive_days: days, retire_at: iso(retireAt), recipients: noticeRecipients(s) },
    },
  ])
}

/**
 * The retirement: only of a token whose notice was recorded for its current last activity (a use,
 * a rotation or a change of the rule since cancelled it) and once the announced moment came.
 */
export const decideInactiveRetirement = (cmd: RetireInactiveToken, state: StackState, ctx: DecideContext): E.Either<DomainError, DomainEvent[]> => {
  const checked = check(cmd, state)
  if (E.isLeft(checked)) return checked
  const { s, t, activity } = checked.right
  const notice = t.inactivity_notice
  if (notice === null || notice.last_activity_at !== iso(activity)) return E.left(notDue('no retirement was announced for the token\'s last activity'))
  if (ctx.now.getTime() < Date.parse(notice.retire_at)) return E.left(notDue('it is too early'))
  return E.right([{ type: 'TokenRevoked', data: { api_key: s.api_key, token_uid: t.uid, reason: 'inactive' } }])
}
