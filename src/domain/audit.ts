import type { TokenField } from './commands.js'
import type { EventType } from './events.js'

/**
 * The audit log's vocabulary: the modules and event types its entries are listed under and its
 * filters take. One list for the projection, the route's filter and its /docs, and the CLI; the
 * console keeps a copy (it bundles none of the service) that a console test holds to this one.
 */
export const AUDIT_MODULES = ['management_token', 'stack'] as const
export type AuditModule = (typeof AUDIT_MODULES)[number]
export const AUDIT_EVENT_TYPES = ['create', 'update', 'delete', 'rotate', 'share', 'unshare', 'transfer_ownership', 'expiry_notice', 'update_role', 'end_rotation_grace', 'update_policy', 'inactivity_notice'] as const
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number]

/** Which audit-log `module` and `event_type` each event is listed under. */
export const AUDIT_KIND: { readonly [E in EventType]: { readonly module: AuditModule; readonly event_type: AuditEventType } } = {
  StackCreated: { module: 'stack', event_type: 'create' },
  MemberShared: { module: 'stack', event_type: 'share' },
  MemberUnshared: { module: 'stack', event_type: 'unshare' },
  MemberRoleChanged: { module: 'stack', event_type: 'update_role' },
  OwnershipTransferred: { module: 'stack', event_type: 'transfer_ownership' },
  TokenGenerated: { module: 'management_token', event_type: 'create' },
  TokenRenamed: { module: 'management_token', event_type: 'update' },
  TokenScopeChanged: { module: 'management_token', event_type: 'update' },
  TokenExpiryChanged: { module: 'management_token', event_type: 'update' },
  TokenLimitsChanged: { module: 'management_token', event_type: 'update' },
  TokenNotificationChanged: { module: 'management_token', event_type: 'update' },
  TokenAllowedIpsChanged: { module: 'management_token', event_type: 'update' },
  TokenRotated: { module: 'management_token', event_type: 'rotate' },
  RotationGraceEnded: { module: 'management_token', event_type: 'end_rotation_grace' },
  TokenRevoked: { module: 'management_token', event_type: 'delete' },
  TokenExpiryNotified: { module: 'management_token', event_type: 'expiry_notice' },
  TokenInactivityNotified: { module: 'management_token', event_type: 'inactivity_notice' },
  StackPolicySet: { module: 'stack', event_type: 'update_policy' },
}

/** The token field each single-field update changes, as an `update` entry lists it (a rename says which of its two it changed). */
export const UPDATED_FIELDS: { readonly [E in EventType]?: readonly TokenField[] } = {
  TokenScopeChanged: ['scope'],
  TokenExpiryChanged: ['expires_on'],
  TokenLimitsChanged: ['rate_limit'],
  TokenNotificationChanged: ['is_email_notification_enabled'],
  TokenAllowedIpsChanged: ['allowed_ips'],
}
