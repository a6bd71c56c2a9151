import { createHash } from 'node:crypto'
import type { EventType, Recorded } from '../src/domain/events.js'
import type { ScheduledToken } from './expiry-schedule.js'

/** The `type` of each lifecycle fact as a webhook receiver sees it. */
export const WEBHOOK_TYPES: Record<EventType, string> = {
  StackCreated: 'stack.created',
  MemberShared: 'member.shared',
  MemberUnshared: 'member.unshared',
  MemberRoleChanged: 'member.roles_changed',
  OwnershipTransferred: 'stack.ownership_transferred',
  TokenGenerated: 'token.generated',
  TokenRenamed: 'token.changed',
  TokenScopeChanged: 'token.changed',
  TokenExpiryChanged: 'token.changed',
  TokenLimitsChanged: 'token.changed',
  TokenNotificationChanged: 'token.changed',
  TokenAllowedIpsChanged: 'token.changed',
  TokenRotated: 'token.rotated',
  RotationGraceEnded: 'token.rotation_grace_ended',
  TokenRevoked: 'token.revoked',
  TokenExpiryNotified: 'token.expiry_notice',
  TokenInactivityNotified: 'token.inactive_soon',
  StackPolicySet: 'stack.policy_changed',
}

export interface WebhookBody {
  /** The delivery id: the event id, or for `token.expired` one derived from token and expiry. Stable across retries. */
  readonly id: string
  readonly type: string
  /** The event it reports (null for `token.expired`, which time derives). */
  readonly event: EventType | null
  readonly occurred_at: string
  readonly stack: string
  readonly actor: string
  /** The event's revision in the stack's stream: receivers can check order (null for `token.expired`). */
  readonly sequence: number | null
  readonly data: Record<string, unknown>
}

/** Event data without secrets' hashes (`secret_hash`, `previous_secret_hash`): no webhook carries a secret or its hash. */
const publicData = (data: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(data).filter(([k]) => !k.endsWith('_hash') && k !== 'secret' && k !== 'token'))

/** A leaked token's revocation is its own fact to a receiver: `token.leaked` (event TokenRevoked, with the report). */
const typeOf = (r: Recorded): string => (r.event.type === 'TokenRevoked' && r.event.data.reason === 'leaked' ? 'token.leaked' : WEBHOOK_TYPES[r.event.type])

export const webhookOf = (r: Recorded): WebhookBody => ({
  id: r.id,
  type: typeOf(r),
  event: r.event.type,
  occurred_at: r.metadata.occurred_at,
  stack: r.event.data.api_key,
  actor: r.metadata.actor,
  sequence: r.revision,
  data: publicData(r.event.data),
})

/** A UUID-shaped id derived from a string: the same fact always gets the same delivery id. */
export const derivedId = (key: string): string => {
  const h = createHash('sha256').update(key).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** `token.expired`: no event records it (expiry is enforced by time); the reactor derives it. */
export const expiredWebhook = (t: ScheduledToken & { expires_on: string }): WebhookBody => ({
  id: derivedId(`token.expired:${t.api_key}:${t.token_uid}:${t.expires_on}`),
  type: 'token.expired',
  event: null,
  occurred_at: t.expires_on,
  stack: t.api_key,
  actor: 'system',
  sequence: null,
  data: { api_key: t.api_key, token_uid: t.token_uid, name: t.name, expires_on: t.expires_on },
})
