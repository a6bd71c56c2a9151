import * as E from 'fp-ts/lib/Either.js'
import t from 'tap'
import type { Command } from '../../src/domain/commands.js'
import { decide } from '../../src/domain/decide.js'
import type { DomainEvent } from '../../src/domain/events.js'
import { SYSTEM_ACTOR } from '../../src/domain/expiry-notice.js'
import { lastActivityMs } from '../../src/domain/inactivity.js'
import { evolveOwned, own, initialState, type StackState } from '../../src/domain/state.js'
import { NO_POLICY } from '../../src/domain/token-policy.js'
import { admin, API_KEY, NOW, owner, POLICY, stackWithTeam, tokenGenerated } from '../support/decider-spec.js'

const DAY = 86_400_000
const WEEK = 7 * DAY
const at = (days: number) => new Date(NOW.getTime() + days * DAY)
const iso = (days: number) => at(days).toISOString()
/** Events with the moment each happened: the fold dates creations and rotations from them. */
type Dated = readonly [DomainEvent, number]
const stateOf = (history: readonly Dated[]): StackState => history.reduce((s, [e, d]) => evolveOwned(s, e, iso(d)), own(initialState))
const policy = (inactive_days: number | null, before: number | null = null): DomainEvent => ({
  type: 'StackPolicySet',
  data: { api_key: API_KEY, policy: { ...NO_POLICY, inactive_days }, before: { ...NO_POLICY, inactive_days: before } },
})
const base: Dated[] = [...stackWithTeam.map((e): Dated => [e, 0]), [policy(30), 0], [tokenGenerated('blt1', 'ci'), 0]]
const notice = (lastUsedDays: number | null, actor: Command['actor'] = SYSTEM_ACTOR): Command => ({
  type: 'RecordInactivityNotice',
  actor,
  token_uid: 'blt1',
  last_used_at: lastUsedDays === null ? null : iso(lastUsedDays),
  notify_before_ms: WEEK,
})
const retire = (lastUsedDays: number | null): Command => ({ type: 'RetireInactiveToken', actor: SYSTEM_ACTOR, token_uid: 'blt1', last_used_at: lastUsedDays === null ? null : iso(lastUsedDays) })
const run = (history: readonly Dated[], cmd: Command, nowDays: number) => decide(cmd, stateOf(history), { now: at(nowDays), policy: POLICY })
const events = (r: ReturnType<typeof run>) => (E.isRight(r) ? r.right : r.left.code)
const notified = (activityDays: number, retireDays: number): DomainEvent => ({
  type: 'TokenInactivityNotified',
  data: { api_key: API_KEY, token_uid: 'blt1', last_activity_at: iso(activityDays), inactive_days: 30, retire_at: iso(retireDays), recipients: [admin.email, owner.email] },
})

t.test('the rule: the latest of last use and creation or rotation', async (t) => {
  t.equal(lastActivityMs(10, null), 10, 'never used: from creation or rotation')
  t.equal(lastActivityMs(10, 20), 20)
  t.equal(lastActivityMs(30, 20), 30, 'a rotation after the last use counts')
  t.equal(lastActivityMs(null, null), null)
})

t.test('RecordInactivityNotice', async (t) => {
  t.same(events(run(base, notice(null), 23 - 1e-9)), 'notice-not-due', 'a moment before inactive_days - NOTIFY_BEFORE: too early')
  t.same(events(run(base, notice(null), 23)), [notified(0, 30)], 'never used: counted from creation, notified a week ahead, to the owner and admins')
  t.same(events(run(base, notice(5), 28)), [notified(5, 35)], 'used on day 5: counted from then')
  t.same(events(run(base, notice(null), 40)), [notified(0, 47)], 'late (the service was down): the full week of warning still')
  t.same(events(run([...base, [notified(0, 30), 23]], notice(null), 24)), 'notice-already-recorded', 'once per last activity')
  t.same(events(run([...base, [notified(0, 30), 23]], notice(25), 48)), [notified(25, 55)], 'a use after the notice starts a new cycle')
  t.same(events(run(base, notice(null, owner), 23)), 'forbidden', 'only the service')
  t.same(events(run([...base, [policy(null, 30), 1]], notice(null), 40)), 'notice-not-due', 'no rule, no notice')
  const expiring: Dated[] = [...base.slice(0, -1), [tokenGenerated('blt1', 'ci', { expires_on: iso(20) }), 0]]
  t.same(events(run(expiring, notice(null), 23)), 'notice-not-due', 'an expired token is left alone')
  const rotated: Dated[] = [...base, [{ type: 'TokenRotated', data: { api_key: API_KEY, token_uid: 'blt1', secret_hash: 'h2', previous_secret_hash: 'hash-blt1', previous_expires_at: iso(10) } }, 10]]
  t.same(events(run(rotated, notice(null), 30)), 'notice-not-due', 'a rotation restarts the count')
})

t.test('RetireInactiveToken', async (t) => {
  const noticed: Dated[] = [...base, [notified(0, 30), 23]]
  t.same(events(run(noticed, retire(null), 30)), [{ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1', reason: 'inactive' } }], 'at the announced moment: revoked, reason inactive')
  t.same(events(run(noticed, retire(null), 30 - 1e-9)), 'notice-not-due', 'not before')
  t.same(events(run(base, retire(null), 40)), 'notice-not-due', 'never without a notice')
  t.same(events(run(noticed, retire(25), 31)), 'notice-not-due', 'a use after the notice cancels')
  t.same(events(run([...noticed, [policy(null, 30), 24]], retire(null), 31)), 'notice-not-due', 'the rule lifted cancels')
  t.same(events(run([...noticed, [policy(60, 30), 24]], retire(null), 31)), 'notice-not-due', 'the rule raised cancels')
  t.same(events(run([...noticed, [policy(null, 30), 24], [policy(30, null), 25]], retire(null), 31)), 'notice-not-due', 'lifted and set again: a new notice first')
  t.same(events(run([...noticed, [{ type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1', reason: 'inactive' } }, 30]], retire(null), 31)), 'token-revoked', 'twice: refused')
})
