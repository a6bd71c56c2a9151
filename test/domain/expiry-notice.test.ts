import t from 'tap'
import type { Command } from '../../src/domain/commands.js'
import type { DomainEvent } from '../../src/domain/events.js'
import { SYSTEM_ACTOR } from '../../src/domain/expiry-notice.js'
import { admin, API_KEY, developer, given, NOW, owner, shared, stackWithTeam, tokenGenerated } from '../support/decider-spec.js'

const DAY = 86_400_000
const WEEK = 7 * DAY
const EXPIRES = new Date(NOW.getTime() + 5 * DAY).toISOString()
const LATER = new Date(NOW.getTime() + 30 * DAY).toISOString()
const withToken = (extra = {}) => [...stackWithTeam, tokenGenerated('blt1', 'ci', { expires_on: EXPIRES, is_email_notification_enabled: true, ...extra })]
const record = (expires_on = EXPIRES, actor: Command['actor'] = SYSTEM_ACTOR): Command => ({
  type: 'RecordExpiryNotice',
  actor,
  token_uid: 'blt1',
  expires_on,
  notify_before_ms: WEEK,
})
const notified = (expires_on = EXPIRES, recipients = [admin.email, owner.email]): DomainEvent => ({
  type: 'TokenExpiryNotified',
  data: { api_key: API_KEY, token_uid: 'blt1', expires_on, recipients },
})

t.test('RecordExpiryNotice', async (t) => {
  t.test('due, enabled, live > TokenExpiryNotified to the owner and admins (not developers)', async (t) => {
    given(t, withToken()).when(record()).then([notified()])
  })
  t.test('exactly at expires_on - notify_before > due', async (t) => {
    given(t, withToken(), { now: new Date(Date.parse(EXPIRES) - WEEK) }).when(record()).then([notified()])
  })
  t.test('a millisecond earlier > notice-not-due', async (t) => {
    given(t, withToken(), { now: new Date(Date.parse(EXPIRES) - WEEK - 1) }).when(record()).thenError('notice-not-due')
  })
  t.test('at or after expiry > notice-not-due (an expired token is not notified)', async (t) => {
    given(t, withToken(), { now: new Date(EXPIRES) }).when(record()).thenError('notice-not-due')
  })
  t.test('already notified for this expiry > notice-already-recorded (two instances cannot both record it)', async (t) => {
    given(t, [...withToken(), notified()]).when(record()).thenError('notice-already-recorded')
  })
  t.test('after an expiry change > re-armed for the new value', async (t) => {
    const changed: DomainEvent = { type: 'TokenExpiryChanged', data: { api_key: API_KEY, token_uid: 'blt1', expires_on: LATER } }
    given(t, [...withToken(), notified(), changed], { now: new Date(Date.parse(LATER) - DAY) }).when(record(LATER)).then([notified(LATER)])
  })
  t.test('for an expiry the token no longer has > notice-not-due', async (t) => {
    const changed: DomainEvent = { type: 'TokenExpiryChanged', data: { api_key: API_KEY, token_uid: 'blt1', expires_on: LATER } }
    given(t, [...withToken(), changed]).when(record(EXPIRES)).thenError('notice-not-due')
  })
  t.test('notification disabled > notice-not-due', async (t) => {
    const off: DomainEvent = { type: 'TokenNotificationChanged', data: { api_key: API_KEY, token_uid: 'blt1', is_email_notification_enabled: false } }
    given(t, [...withToken(), off]).when(record()).thenError('notice-not-due')
  })
  t.test('no expiry > notice-not-due', async (t) => {
    given(t, withToken({ expires_on: null })).when(record()).thenError('notice-not-due')
  })
  t.test('revoked > token-revoked', async (t) => {
    given(t, [...withToken(), { type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1' } }]).when(record()).thenError('token-revoked')
  })
  t.test('unknown token > token-not-found; unknown stack > stack-not-found', async (t) => {
    given(t, stackWithTeam).when(record()).thenError('token-not-found')
    given(t, []).when(record()).thenError('stack-not-found')
  })
  t.test('by a person, even the owner > forbidden: only the service records notices', async (t) => {
    given(t, withToken()).when(record(EXPIRES, owner)).thenError('forbidden')
  })
  t.test('recipients follow the stack, not the creator: after a transfer and an unshare', async (t) => {
    const history: DomainEvent[] = [
      ...withToken(),
      shared('new-admin@example.com', ['admin', 'developer']),
      { type: 'MemberUnshared', data: { api_key: API_KEY, email: admin.email } },
      { type: 'OwnershipTransferred', data: { api_key: API_KEY, from_email: owner.email, to_email: developer.email } },
    ]
    given(t, history).when(record()).then([notified(EXPIRES, [developer.email, 'new-admin@example.com', owner.email])])
  })
})
