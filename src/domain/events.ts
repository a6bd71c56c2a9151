import * as t from 'io-ts'
import { RateLimit, Scope } from './scope.js'
import { StackPolicy } from './token-policy.js'

/**
 * The event catalogue. Every event read back from a store is decoded with these codecs;
 * types are derived from them. Secrets never appear: only their SHA-256 hex digest.
 */
export const SCHEMA_VERSION = 1

export const EventMetadata = t.intersection([
  t.type({
    actor: t.string,
    occurred_at: t.string,
    request_id: t.string,
    remote_addr: t.string,
    schema_version: t.number,
  }),
  t.partial({
    actor_email: t.string,
    /** Set when the command came with an `Idempotency-Key`: hashes only (src/write/idempotency.ts). */
    idempotency: t.type({ key: t.string, request: t.string }),
  }),
])
export type EventMetadata = t.TypeOf<typeof EventMetadata>

const ev = <T extends string, P extends t.Props>(type: T, props: P) =>
  t.type({ type: t.literal(type), data: t.type({ api_key: t.string, ...props }) })

const nullableString = t.union([t.string, t.null])

/**
 * A change to a token's fields: the new values, and in `before` the values they replaced (so an
 * audit entry can say what changed without reading the history). Events recorded before `before`
 * existed lack it.
 */
const change = <T extends string, P extends t.Props>(type: T, props: P) =>
  t.type({
    type: t.literal(type),
    data: t.intersection([t.type({ api_key: t.string, token_uid: t.string, ...props }), t.partial({ before: t.type(props) })]),
  })

/** Why a token was revoked: `user` (DELETE by an owner or admin; every revocation recorded without a reason). */
export const REVOCATION_REASONS = ['user', 'expired', 'inactive', 'leaked'] as const
export type RevocationReason = (typeof REVOCATION_REASONS)[number]
const RevocationReasonCodec = t.keyof(Object.fromEntries(REVOCATION_REASONS.map((r) => [r, null])) as Record<RevocationReason, null>)

export const StackCreated = ev('StackCreated', {
  name: t.string,
  description: t.string,
  owner_email: t.string,
  owner_uid: t.string,
})
export const MemberShared = ev('MemberShared', { email: t.string, roles: t.array(t.string) })
export const MemberUnshared = ev('MemberUnshared', { email: t.string })
/** A member's roles replaced by `roles` (never the owner's: the owner has no roles to change). */
export const MemberRoleChanged = ev('MemberRoleChanged', { email: t.string, roles: t.array(t.string) })
export const OwnershipTransferred = ev('OwnershipTransferred', {
  from_email: t.string,
  to_email: t.string,
})
/** Canonical addresses and CIDR ranges (allowed-ips.ts) a token may be used from; empty: any. */
const AllowedIps = t.array(t.string)
export const TokenGenerated = t.type({
  type: t.literal('TokenGenerated'),
  data: t.intersection([
    t.type({
      api_key: t.string,
      token_uid: t.string,
      name: t.string,
      description: t.string,
      scope: Scope,
      /** ISO-8601 instant at which the token stops working, or null for never. */
      expires_on: nullableString,
      rate_limit: t.union([RateLimit, t.null]),
      is_email_notification_enabled: t.boolean,
      secret_hash: t.string,
    }),
    // Recorded only when the list is not empty; events from before allow-lists lack it.
    t.partial({ allowed_ips: AllowedIps }),
  ]),
})
export const TokenRenamed = change('TokenRenamed', { name: t.string, description: t.string })
export const TokenScopeChanged = change('TokenScopeChanged', { scope: Scope })
export const TokenExpiryChanged = change('TokenExpiryChanged', { expires_on: nullableString })
export const TokenLimitsChanged = change('TokenLimitsChanged', { rate_limit: t.union([RateLimit, t.null]) })
export const TokenNotificationChanged = change('TokenNotificationChanged', { is_email_notification_enabled: t.boolean })
export const TokenAllowedIpsChanged = change('TokenAllowedIpsChanged', { allowed_ips: AllowedIps })
export const TokenRotated = ev('TokenRotated', {
  token_uid: t.string,
  secret_hash: t.string,
  previous_secret_hash: t.string,
  /** Until when the previous secret keeps working (ISO instant); equal to occurred_at for no grace. */
  previous_expires_at: t.string,
})
/**
 * A rotation's grace ended early (DELETE .../previous_secret): every earlier secret of the token
 * stops working now. `previous_expires_at` is when the grace would have ended.
 */
export const RotationGraceEnded = ev('RotationGraceEnded', { token_uid: t.string, previous_expires_at: t.string })
/**
 * Where a leaked secret was found, as its reporter said (`url`, `source`: GitHub's secret
 * scanning sends both), and whether the report's signature was verified; never the secret.
 */
export const LeakReport = t.type({ url: nullableString, source: nullableString, signed: t.boolean })
export type LeakReport = t.TypeOf<typeof LeakReport>
export const TokenRevoked = t.type({
  type: t.literal('TokenRevoked'),
  data: t.intersection([
    t.type({ api_key: t.string, token_uid: t.string }),
    // `report` and `recipients` (the owner and admins notified) with reason `leaked` only.
    t.partial({ reason: RevocationReasonCodec, report: LeakReport, recipients: t.array(t.string) }),
  ]),
})
/** The expiry reactor emailed the stack's owner and admins about `expires_on` (once per expiry value). */
export const TokenExpiryNotified = ev('TokenExpiryNotified', {
  token_uid: t.string,
  /** The expiry (ISO instant) this notice is about: a changed expiry re-arms the notice. */
  expires_on: t.string,
  recipients: t.array(t.string),
})

/**
 * The reactor emailed the stack's owner and admins that the token is retired at `retire_at` for
 * lack of use (stack policy `inactive_days`): once per last activity. A later use, a rotation or a
 * change of the rule starts a new cycle; the retirement is a TokenRevoked with reason `inactive`.
 */
export const TokenInactivityNotified = ev('TokenInactivityNotified', {
  token_uid: t.string,
  /** The activity (ISO instant: last use, creation or rotation) the inactivity is counted from. */
  last_activity_at: t.string,
  inactive_days: t.number,
  /** When the token is revoked unless it is used before. */
  retire_at: t.string,
  recipients: t.array(t.string),
})

/** The owner set the stack's token policy: the whole new policy, and the one it replaced. */
export const StackPolicySet = ev('StackPolicySet', { policy: StackPolicy, before: StackPolicy })

export const DomainEvent = t.union([
  StackCreated,
  MemberShared,
  MemberUnshared,
  MemberRoleChanged,
  OwnershipTransferred,
  TokenGenerated,
  TokenRenamed,
  TokenScopeChanged,
  TokenExpiryChanged,
  TokenLimitsChanged,
  TokenNotificationChanged,
  TokenAllowedIpsChanged,
  TokenRotated,
  RotationGraceEnded,
  TokenRevoked,
  TokenExpiryNotified,
  TokenInactivityNotified,
  StackPolicySet,
])
export type DomainEvent = t.TypeOf<typeof DomainEvent>
export type EventType = DomainEvent['type']
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>

export const EVENT_TYPES: readonly EventType[] = DomainEvent.types.map(
  (c) => c.props.type.value,
)

/** The codec of each event type, so decoding tries one codec and reports precise problems. */
export const EVENT_CODECS: ReadonlyMap<string, t.Mixed> = new Map(
  DomainEvent.types.map((c) => [c.props.type.value, c] as const),
)

/** An event as it was recorded, decoded: what projections and the replay CLI work on. */
export interface Recorded<E extends DomainEvent = DomainEvent> {
  readonly event: E
  readonly metadata: EventMetadata
  readonly stream: string
  readonly revision: number
  readonly position: number
  readonly id: string
}

/* c8 ignore next 4: unreachable by construction; a new event or command without a case is a compile error */
export const assertNever = (x: never): never => {
  throw new Error(`unhandled case: ${JSON.stringify(x)}`)
}
