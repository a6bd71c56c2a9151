import type { EventType } from '../../src/domain/events.js'

/** Which audit-log `module` and `event_type` each event is listed under. */
export const AUDIT_KIND: Record<EventType, { module: 'stack' | 'management_token'; event_type: string }> = {
  StackCreated: { module: 'stack', event_type: 'create' },
  MemberShared: { module: 'stack', event_type: 'share' },
  MemberUnshared: { module: 'stack', event_type: 'unshare' },
  OwnershipTransferred: { module: 'stack', event_type: 'transfer_ownership' },
  TokenGenerated: { module: 'management_token', event_type: 'create' },
  TokenRenamed: { module: 'management_token', event_type: 'update' },
  TokenScopeChanged: { module: 'management_token', event_type: 'update' },
  TokenExpiryChanged: { module: 'management_token', event_type: 'update' },
  TokenLimitsChanged: { module: 'management_token', event_type: 'update' },
  TokenNotificationChanged: { module: 'management_token', event_type: 'update' },
  TokenRotated: { module: 'management_token', event_type: 'rotate' },
  TokenRevoked: { module: 'management_token', event_type: 'delete' },
  TokenExpiryNotified: { module: 'management_token', event_type: 'expiry_notice' },
}

/** Every event type (AUDIT_KIND has each), in the order of the catalogue, without loading the codecs. */
export const AUDIT_EVENT_TYPES = Object.keys(AUDIT_KIND) as EventType[]
