import { assertNever, type DomainEvent } from './events.js'
import type { RateLimit, Scope } from './scope.js'

export interface TokenState {
  readonly uid: string
  readonly name: string
  readonly description: string
  readonly scope: Scope
  readonly expires_on: string | null
  readonly rate_limit: RateLimit | null
  readonly is_email_notification_enabled: boolean
  readonly secret_hash: string
  readonly revoked: boolean
  /** The expiry value an expiry notice was recorded for, if any. */
  readonly notified_for: string | null
}

export type StackState =
  | { readonly status: 'absent' }
  | {
      readonly status: 'active'
      readonly api_key: string
      readonly owner_email: string
      /** email -> roles; the owner is listed with the roles it had or none. */
      readonly members: ReadonlyMap<string, readonly string[]>
      readonly tokens: ReadonlyMap<string, TokenState>
    }

export const initialState: StackState = { status: 'absent' }

const withMap = <K, V>(m: ReadonlyMap<K, V>, f: (copy: Map<K, V>) => void): ReadonlyMap<K, V> => {
  const copy = new Map(m)
  f(copy)
  return copy
}

export const evolve = (state: StackState, event: DomainEvent): StackState => {
  if (event.type === 'StackCreated') {
    return {
      status: 'active',
      api_key: event.data.api_key,
      owner_email: event.data.owner_email,
      members: new Map([[event.data.owner_email, []]]),
      tokens: new Map(),
    }
  }
  if (state.status === 'absent') return state
  const token = (uid: string, f: (t: TokenState) => TokenState): StackState => {
    const current = state.tokens.get(uid)
    if (!current) return state
    return { ...state, tokens: withMap(state.tokens, (m) => m.set(uid, f(current))) }
  }
  switch (event.type) {
    case 'MemberShared':
      return { ...state, members: withMap(state.members, (m) => m.set(event.data.email, event.data.roles)) }
    case 'MemberUnshared':
      return { ...state, members: withMap(state.members, (m) => m.delete(event.data.email)) }
    case 'OwnershipTransferred':
      return {
        ...state,
        owner_email: event.data.to_email,
        members: withMap(state.members, (m) => m.set(event.data.from_email, ['admin'])),
      }
    case 'TokenGenerated': {
      const d = event.data
      const t: TokenState = {
        uid: d.token_uid,
        name: d.name,
        description: d.description,
        scope: d.scope,
        expires_on: d.expires_on,
        rate_limit: d.rate_limit,
        is_email_notification_enabled: d.is_email_notification_enabled,
        secret_hash: d.secret_hash,
        revoked: false,
        notified_for: null,
      }
      return { ...state, tokens: withMap(state.tokens, (m) => m.set(d.token_uid, t)) }
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
    case 'TokenRotated':
      return token(event.data.token_uid, (t) => ({ ...t, secret_hash: event.data.secret_hash }))
    case 'TokenRevoked':
      return token(event.data.token_uid, (t) => ({ ...t, revoked: true }))
    case 'TokenExpiryNotified':
      return token(event.data.token_uid, (t) => ({ ...t, notified_for: event.data.expires_on }))
    /* c8 ignore next 2 */
    default:
      return assertNever(event)
  }
}

export const fold = (events: readonly DomainEvent[], from: StackState = initialState): StackState =>
  events.reduce(evolve, from)

export const liveTokens = (state: StackState): TokenState[] =>
  state.status === 'active' ? [...state.tokens.values()].filter((t) => !t.revoked) : []
