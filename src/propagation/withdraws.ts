import type { DomainEvent } from '../domain/events.js'

/**
 * Whether events take access away at once, so that their answer waits for every live instance:
 * a revocation, a rotation whose previous secret is already out (no grace), the end of a grace,
 * and a change of scope, expiry or allow-list. Such a change is confirmed even when it widens: telling a narrowing
 * from a widening needs the previous value, and the wait costs a widening only the time the
 * other instances take to apply it.
 */
export const withdrawsAccess = (events: readonly DomainEvent[], now: Date): boolean =>
  events.some(
    (e) =>
      e.type === 'TokenRevoked' ||
      e.type === 'RotationGraceEnded' ||
      e.type === 'TokenScopeChanged' ||
      e.type === 'TokenExpiryChanged' ||
      e.type === 'TokenAllowedIpsChanged' ||
      (e.type === 'TokenRotated' && Date.parse(e.data.previous_expires_at) <= now.getTime()),
  )
