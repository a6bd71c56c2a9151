import t from 'tap'
import { dueWork, evolveSchedule, type ScheduledToken } from '../../reactors/expiry-schedule.js'
import { expiredWebhook, webhookOf } from '../../reactors/lifecycle-webhooks.js'
import type { DomainEvent, Recorded } from '../../src/domain/events.js'
import { API_KEY, NOW, tokenGenerated } from '../support/decider-spec.js'

const DAY = 86_400_000
const WEEK = 7 * DAY
const at = (days: number) => new Date(NOW.getTime() + days * DAY).toISOString()
const row = (over: Partial<ScheduledToken> = {}): ScheduledToken => ({
  api_key: API_KEY,
  token_uid: 'blt1',
  name: 'ci',
  expires_on: at(10),
  notify: true,
  revoked: false,
  notified_for: null,
  expired_for: null,
  ...over,
})
const ev = (e: DomainEvent) => e

t.test('evolveSchedule follows the token facts that matter for its schedule', async (t) => {
  let r = evolveSchedule(undefined, tokenGenerated('blt1', 'ci', { expires_on: at(10), is_email_notification_enabled: true }))
  t.same(r, row())
  t.equal(evolveSchedule(undefined, ev({ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1' } })), undefined, 'no row, nothing to change')
  r = evolveSchedule(r, ev({ type: 'TokenRenamed', data: { api_key: API_KEY, token_uid: 'blt1', name: 'ci2', description: '' } }))
  r = evolveSchedule(r, ev({ type: 'TokenExpiryChanged', data: { api_key: API_KEY, token_uid: 'blt1', expires_on: at(20) } }))
  r = evolveSchedule(r, ev({ type: 'TokenNotificationChanged', data: { api_key: API_KEY, token_uid: 'blt1', is_email_notification_enabled: false } }))
  r = evolveSchedule(r, ev({ type: 'TokenExpiryNotified', data: { api_key: API_KEY, token_uid: 'blt1', expires_on: at(20), recipients: [] } }))
  r = evolveSchedule(r, ev({ type: 'TokenLimitsChanged', data: { api_key: API_KEY, token_uid: 'blt1', rate_limit: null } }))
  r = evolveSchedule(r, ev({ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1' } }))
  t.same(r, row({ name: 'ci2', expires_on: at(20), notify: false, notified_for: at(20), revoked: true }))
})

t.test('dueWork: notices from expiry - NOTIFY_BEFORE until expiry; expirations once per expiry value', async (t) => {
  const now = NOW.getTime()
  t.same(dueWork([row()], now, WEEK), { notices: [], expirations: [] }, '10 days ahead: nothing')
  t.same(dueWork([row({ expires_on: at(7) })], now, WEEK).notices.length, 1, 'exactly 7 days ahead: due')
  t.same(dueWork([row({ expires_on: at(2) })], now, WEEK).notices.length, 1, 'a missed moment is still due')
  t.same(dueWork([row({ expires_on: at(2), notified_for: at(2) })], now, WEEK).notices, [], 'already notified')
  t.same(dueWork([row({ expires_on: at(2), notified_for: at(1) })], now, WEEK).notices.length, 1, 'notified for another expiry: re-armed')
  t.same(dueWork([row({ expires_on: at(2), notify: false })], now, WEEK).notices, [], 'notification off')
  t.same(dueWork([row({ expires_on: at(2), revoked: true })], now, WEEK), { notices: [], expirations: [] }, 'revoked')
  t.same(dueWork([row({ expires_on: null })], now, WEEK), { notices: [], expirations: [] }, 'never expires')
  const gone = row({ expires_on: at(0) })
  t.same(dueWork([gone], now, WEEK), { notices: [], expirations: [gone] }, 'expired: no notice, an expiration')
  t.same(dueWork([row({ expires_on: at(-1), expired_for: at(-1) })], now, WEEK).expirations, [], 'expiration announced once')
})

t.test('webhook bodies carry no hash; token.expired has a stable derived id', async (t) => {
  const rec: Recorded = {
    event: { type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'aa', previous_secret_hash: 'bb', previous_expires_at: at(0) } },
    metadata: { actor: 'u1', occurred_at: at(0), request_id: 'r', remote_addr: '', schema_version: 1 },
    stream: `stack-${API_KEY}`,
    revision: 4,
    position: 9,
    id: 'e1',
  }
  t.same(webhookOf(rec), { id: 'e1', type: 'token.rotated', event: 'TokenRotated', occurred_at: at(0), stack: API_KEY, actor: 'u1', sequence: 4, data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: at(0) } })
  const ended: Recorded = { ...rec, id: 'e2', revision: 5, event: { type: 'RotationGraceEnded', data: { api_key: API_KEY, token_uid: 'blt1', previous_expires_at: at(1) } } }
  t.match(webhookOf(ended), { type: 'token.rotation_grace_ended', event: 'RotationGraceEnded', sequence: 5, data: { token_uid: 'blt1', previous_expires_at: at(1) } }, 'an ended grace is a webhook like the other token facts')
  const a = expiredWebhook({ ...row(), expires_on: at(1) })
  t.equal(a.id, expiredWebhook({ ...row(), expires_on: at(1) }).id, 'same fact, same id')
  t.not(a.id, expiredWebhook({ ...row(), expires_on: at(2) }).id, 'another expiry, another id')
  t.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/)
})
