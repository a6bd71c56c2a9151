import { assertNever, type DomainEvent } from './events.js'
import type { RateLimit, Scope } from './scope.js'
import { NO_POLICY, type StackPolicy } from './token-policy.js'

export interface TokenState {
  readonly uid: string
  readonly name: string
  readonly description: string
  readonly scope: Scope
  readonly expires_on: string | null
  readonly rate_limit: RateLimit | null
  readonly is_email_notification_enabled: boolean
  /** Canonical entries; empty: any address. */
  readonly allowed_ips: readonly string[]
  readonly secret_hash: string
  readonly revoked: boolean
  /** Until when the secrets rotated out last keep working (ISO instant), or null: no grace since. */
  readonly grace_until: string | null
  /** The expiry value an expiry notice was recorded for, if any. */
  readonly notified_for: string | null
  /** When it was generated (ISO instant), when the fold was given the time; the policy's lifetime counts from it. */
  readonly created_at: string | null
  /** Its creation or its last rotation (ISO instant, null when the fold was not given the time): inactivity counts from it at the earliest. */
  readonly active_since: string | null
  /** The inactivity notice of the running cycle: the activity it counted from and the retirement it announced. */
  readonly inactivity_notice: { readonly last_activity_at: string; readonly retire_at: string } | null
}

type Absent = { readonly status: 'absent' }

export type StackState =
  | Absent
  | {
      readonly status: 'active'
      readonly api_key: string
      readonly owner_email: string
      /** email -> roles; the owner is listed with the roles it had or none. */
      readonly members: ReadonlyMap<string, readonly string[]>
      readonly tokens: ReadonlyMap<string, TokenState>
      readonly policy: StackPolicy
    }

/**
 * A state that one fold owns and no one else holds: its maps are changed in place, so an event
 * costs the same on a stack of ten members as on one of ten thousand.
 */
export type OwnedState =
  | Absent
  | { status: 'active'; api_key: string; owner_email: string; members: Map<string, readonly string[]>; tokens: Map<string, TokenState>; policy: StackPolicy }

export const initialState: Absent = { status: 'absent' }

/** A copy whose maps can be changed without touching `state`'s. */
export const own = (state: StackState): OwnedState =>
  state.status === 'absent' ? state : { ...state, members: new Map(state.members), tokens: new Map(state.tokens) }

/**
 * Applies `event` to `state`, changing it in place (the absent state is never changed).
 * `occurredAt` (the event's metadata) dates a token's creation; without it the date is unknown.
 */
export const evolveOwned = (state: OwnedState, event: DomainEvent, occurredAt?: string): OwnedState => {
  if (event.type === 'StackCreated') {
    return {
      status: 'active',
      api_key: event.data.api_key,
      owner_email: event.data.owner_email,
      members: new Map([[event.data.owner_email, []]]),
      tokens: new Map(),
      policy: NO_POLICY,
    }
  }
  if (state.status === 'absent') return state
  const token = (uid: string, f: (t: TokenState) => TokenState): OwnedState => {
    const current = state.tokens.get(uid)
    if (current) state.tokens.set(uid, f(current))
    return state
  }
  switch (event.type) {
    case 'MemberShared':
      state.members.set(event.data.email, event.data.roles)
      return state
    case 'MemberRoleChanged':
      state.members.set(event.data.email, event.data.roles)
      return state
    case 'MemberUnshared':
      state.members.delete(event.data.email)
      return state
    case 'OwnershipTransferred':
      state.owner_email = event.data.to_email
      state.members.set(event.data.from_email, ['admin'])
      return state
    case 'TokenGenerated': {
      const d = event.data
      state.tokens.set(d.token_uid, {
        uid: d.token_uid,
        name: d.name,
        description: d.description,
        scope: d.scope,
        expires_on: d.expires_on,
        rate_limit: d.rate_limit,
        is_email_notification_enabled: d.is_email_notification_enabled,
        allowed_ips: d.allowed_ips ?? [],
        secret_hash: d.secret_hash,
        revoked: false,
        grace_until: null,
        notified_for: null,
        created_at: occurredAt ?? null,
        active_since: occurredAt ?? null,
        inactivity_notice: null,
      })
      return state
    }
    case 'TokenRenamed':
      return token(event.data.token_uid, (t) => ({
        ...t,
        name: event.data.name,
        description: event.data.description,
      }))
    case 'TokenScopeChanged':
      return token(event.data.token_uid, (t) => ({ ...t, scope: event.data.scope }))
    case 'TokenExpiryChanged':
      return token(event.data.token_uid, (t) => ({ ...t, expires_on: event.data.expires_on }))
    case 'TokenLimitsChanged':
      return token(event.data.token_uid, (t) => ({ ...t, rate_limit: event.data.rate_limit }))
    case 'TokenNotificationChanged':
      return token(event.data.token_uid, (t) => ({
        ...t,
        is_email_notification_enabled: event.data.is_email_notification_enabled,
      }))
    case 'TokenAllowedIpsChanged':
      return token(event.data.token_uid, (t) => ({ ...t, allowed_ips: event.data.allowed_ips }))
    case 'TokenRotated':
      return token(event.data.token_uid, (t) => ({
        ...t,
        secret_hash: event.data.secret_hash,
        grace_until: event.data.previous_expires_at,
        active_since: occurredAt ?? t.active_since,
        inactivity_notice: null,
      }))
    case 'RotationGraceEnded':
      return token(event.data.token_uid, (t) => ({ ...t, grace_until: null }))
    case 'TokenRevoked':
      return token(event.data.token_uid, (t) => ({ ...t, revoked: true }))
    case 'TokenExpiryNotified':
      return token(event.data.token_uid, (t) => ({ ...t, notified_for: event.data.expires_on }))
    case 'TokenInactivityNotified':
      return token(event.data.token_uid, (t) => ({ ...t, inactivity_notice: { last_activity_at: event.data.last_activity_at, retire_at: event.data.retire_at } }))
    case 'StackPolicySet':
      // Lifting or changing the inactivity rule cancels every announced retirement.
      if (event.data.policy.inactive_days !== state.policy.inactive_days)
        for (const [uid, t] of state.tokens) if (t.inactivity_notice) state.tokens.set(uid, { ...t, inactivity_notice: null })
      state.policy = event.data.policy
      return state
    /* c8 ignore next 2 */
    default:
      return assertNever(event)
  }
}

/** The state after `event`; `state` is left as it was. It copies: to fold many events, use fold. */
export const evolve = (state: StackState, event: DomainEvent): StackState => evolveOwned(own(state), event)

/** Copies `from` once, then applies every event in place: linear in the events. */
export const fold = (events: readonly DomainEvent[], from: StackState = initialState): StackState =>
  events.reduce<OwnedState>((s, e) => evolveOwned(s, e), own(from))

export const liveTokens = (state: StackState): TokenState[] =>
  state.status === 'active' ? [...state.tokens.values()].filter((t) => !t.revoked) : []
