import type { LeakReport, RevocationReason } from './events.js'
import type { RateLimit, Scope } from './scope.js'
import type { StackPolicy } from './token-policy.js'

/** Who is acting: the verified authtoken's subject and email. */
export interface Actor {
  readonly uid: string
  readonly email: string
}

/** The fields a client sets on a token (create and PUT): this type is their one list. */
export interface TokenChanges {
  readonly name?: string
  readonly description?: string
  readonly scope?: Scope
  /** Raw input: `YYYY-MM-DD`, an ISO-8601 instant, or null for never. */
  readonly expires_on?: string | null
  readonly rate_limit?: RateLimit | null
  readonly is_email_notification_enabled?: boolean
  /** Addresses and CIDR ranges the token may be used from; empty: any address. */
  readonly allowed_ips?: readonly string[]
}
export type TokenField = keyof TokenChanges
/** Every key of TokenChanges, no other: the compiler checks this object against the type. */
const FIELDS: { readonly [K in TokenField]-?: null } = {
  name: null,
  description: null,
  scope: null,
  expires_on: null,
  rate_limit: null,
  is_email_notification_enabled: null,
  allowed_ips: null,
}
/** TokenChanges' keys at run time, in the order the API documents them. */
export const TOKEN_FIELDS = Object.keys(FIELDS) as readonly TokenField[]

type C<T extends string, P> = { readonly type: T; readonly actor: Actor } & P

export type CreateStack = C<'CreateStack', { api_key: string; name: string; description: string }>
export type ShareStack = C<'ShareStack', { members: ReadonlyArray<{ email: string; roles: readonly string[] }> }>
/** PUT /v3/stacks/users/roles: each listed member's roles replaced. */
export type ChangeRoles = C<'ChangeRoles', { users: ReadonlyArray<{ email: string; roles: readonly string[] }> }>
export type UnshareStack = C<'UnshareStack', { email: string }>
export type TransferOwnership = C<'TransferOwnership', { to_email: string }>
export type GenerateToken = C<
  'GenerateToken',
  {
    token_uid: string
    secret_hash: string
    name: string
    description: string
    scope: Scope
    expires_on: string | null
    rate_limit: RateLimit | null
    is_email_notification_enabled: boolean
    /** Absent or empty: any address. */
    allowed_ips?: readonly string[]
  }
>
export type RenameToken = C<'RenameToken', { token_uid: string; name?: string; description?: string }>
export type ChangeScope = C<'ChangeScope', { token_uid: string; scope: Scope }>
export type ChangeExpiry = C<'ChangeExpiry', { token_uid: string; expires_on: string | null }>
export type ChangeLimits = C<'ChangeLimits', { token_uid: string; rate_limit: RateLimit | null }>
export type ChangeNotification = C<'ChangeNotification', { token_uid: string; enabled: boolean }>
/** PUT: every field that actually changed becomes its own event, decided atomically. */
export type UpdateToken = C<'UpdateToken', { token_uid: string; changes: TokenChanges }>
export type RotateToken = C<
  'RotateToken',
  /** Without `previous_expires_in_seconds`, the stack policy's default grace (0 when it sets none). */
  { token_uid: string; secret_hash: string; previous_expires_in_seconds?: number }
>
/** PUT /v3/stacks/management_token_policy: the owner sets the listed rules; an absent one is unchanged. */
export type SetPolicy = C<'SetPolicy', { policy: Partial<StackPolicy> }>
/** DELETE .../previous_secret: the running rotation grace ends now, and the previous secrets with it. */
export type EndRotationGrace = C<'EndRotationGrace', { token_uid: string }>
/** Without a reason, a person revoked it (DELETE): `user`. */
export type RevokeToken = C<'RevokeToken', { token_uid: string; reason?: RevocationReason }>
/**
 * POST /v3/leaked-secrets (actor `system`): a live secret of the token was reported leaked.
 * Whoever holds a secret may revoke it, so the route, not a role, found the token from the secret.
 */
export type RevokeLeakedToken = C<'RevokeLeakedToken', { token_uid: string; report: LeakReport }>
/** From the expiry reactor (actor `system`): record that the token's expiry is being notified. */
export type RecordExpiryNotice = C<
  'RecordExpiryNotice',
  { token_uid: string; expires_on: string; notify_before_ms: number }
>
/**
 * From the inactivity sweep (actor `system`): `last_used_at` is the token's last allowed use as the
 * usage store knows it (ISO instant, or null: never used); the domain counts from it.
 */
export type RecordInactivityNotice = C<'RecordInactivityNotice', { token_uid: string; last_used_at: string | null; notify_before_ms: number }>
/** From the inactivity sweep (actor `system`): revoke, reason `inactive`, a token notified and still unused. */
export type RetireInactiveToken = C<'RetireInactiveToken', { token_uid: string; last_used_at: string | null }>

export type Command =
  | CreateStack
  | ShareStack
  | ChangeRoles
  | UnshareStack
  | TransferOwnership
  | GenerateToken
  | RenameToken
  | ChangeScope
  | ChangeExpiry
  | ChangeLimits
  | ChangeNotification
  | UpdateToken
  | RotateToken
  | EndRotationGrace
  | RevokeToken
  | RevokeLeakedToken
  | RecordExpiryNotice
  | RecordInactivityNotice
  | RetireInactiveToken
  | SetPolicy

/** Limits from configuration (plan rate limits, live tokens per stack, and the size limits of docs/limits.md). */
export interface Policy {
  readonly maxTokensPerStack: number
  readonly planReadLimit: number
  readonly planWriteLimit: number
  /** People with access to a stack, its owner included. */
  readonly maxMembersPerStack: number
  readonly maxEmailsPerShare: number
  /** Stacks one user may create. */
  readonly maxStacksPerUser: number
}

/** What a decision may depend on besides the state: time is an argument, never read. */
export interface DecideContext {
  readonly now: Date
  readonly policy: Policy
  /**
   * For CreateStack: how many stacks the actor has created so far (the write path counts them);
   * without it, as when a tool seeds a synthetic history, nothing is counted.
   */
  readonly stacksCreated?: number
}
