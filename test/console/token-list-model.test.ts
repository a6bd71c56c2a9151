import t from 'tap'
import { ago } from '../../console/src/format.js'
import { filterByName, flags, nextSort, sortTokens } from '../../console/src/token-list-model.js'
import type { Token } from '../../console/src/types.js'

/** The fixed instant every case is judged at: the clock is an argument. */
const NOW = Date.parse('2026-03-10T12:00:00.000Z')
const H = 3_600_000
const D = 24 * H
const iso = (ms: number) => new Date(ms).toISOString()

const token = (name: string, o: Partial<Token> = {}): Token => ({
  uid: `u-${name}`,
  name,
  description: '',
  scope: [{ module: 'entry', acl: { read: true, write: false } }],
  expires_on: null,
  rate_limit: null,
  is_email_notification_enabled: false,
  created_by: 'u',
  updated_by: 'u',
  created_at: iso(NOW - 40 * D),
  updated_at: iso(NOW - 40 * D),
  last_used_at: null,
  last_used_from: null,
  ...o,
})

t.test('ago: just now, minutes, hours, days before the clock', async (t) => {
  t.equal(ago(iso(NOW - 59_999), NOW), 'just now')
  t.equal(ago(iso(NOW + 5_000), NOW), 'just now', 'a time slightly ahead (another clock) is not "in the future"')
  t.equal(ago(iso(NOW - 60_000), NOW), '1 minute ago')
  t.equal(ago(iso(NOW - 59 * 60_000), NOW), '59 minutes ago')
  t.equal(ago(iso(NOW - 3 * H), NOW), '3 hours ago')
  t.equal(ago(iso(NOW - D + 1), NOW), '23 hours ago')
  t.equal(ago(iso(NOW - D), NOW), '1 day ago')
  t.equal(ago(iso(NOW - 45 * D), NOW), '45 days ago')
})

t.test('flags: expired, expiring within 7 days, never used, unused for 30 days', async (t) => {
  const used = { last_used_at: iso(NOW - H) }
  t.same(flags(token('a', used), NOW), [], 'used an hour ago, no expiry: nothing to flag')
  t.same(flags(token('a', { ...used, expires_on: iso(NOW) }), NOW), ['expired'], 'expired at the very instant')
  t.same(flags(token('a', { ...used, expires_on: iso(NOW + 1) }), NOW), ['expiring'])
  t.same(flags(token('a', { ...used, expires_on: iso(NOW + 7 * D) }), NOW), ['expiring'], '7 days left is still "soon"')
  t.same(flags(token('a', { ...used, expires_on: iso(NOW + 7 * D + 1) }), NOW), [])
  t.same(flags(token('a'), NOW), ['never-used'])
  t.same(flags(token('a', { last_used_at: undefined }), NOW), ['never-used'], 'a service that does not report use: never used')
  t.same(flags(token('a', { last_used_at: iso(NOW - 30 * D + 1) }), NOW), [])
  t.same(flags(token('a', { last_used_at: iso(NOW - 30 * D) }), NOW), ['idle'])
  t.same(flags(token('a', { expires_on: '2026-03-01', last_used_at: iso(NOW - 31 * D) }), NOW), ['expired', 'idle'], 'both at once')
})

t.test('sort: by name, expiry and last use, both ways; ties in name order', async (t) => {
  const list = [
    token('beta', { expires_on: iso(NOW + 2 * D), last_used_at: iso(NOW - 2 * H) }),
    token('Alpha', { expires_on: null, last_used_at: iso(NOW - 5 * D) }),
    token('gamma', { expires_on: iso(NOW + D), last_used_at: null }),
    token('delta', { expires_on: iso(NOW + D), last_used_at: iso(NOW - 2 * H) }),
    token('item10'),
    token('item9'),
  ]
  const names = (key: 'name' | 'expiry' | 'last-used', ascending: boolean) => sortTokens(list, { key, ascending }).map((x) => x.name)
  t.same(names('name', true), ['Alpha', 'beta', 'delta', 'gamma', 'item9', 'item10'], 'case-insensitive, numbers in number order')
  t.same(names('name', false), ['item10', 'item9', 'gamma', 'delta', 'beta', 'Alpha'])
  t.same(names('expiry', true), ['delta', 'gamma', 'beta', 'Alpha', 'item9', 'item10'], 'soonest first, never-expiring last')
  t.same(names('expiry', false).slice(0, 3), ['Alpha', 'item9', 'item10'], 'descending: never-expiring first (ties still by name)')
  t.same(names('last-used', true), ['gamma', 'item9', 'item10', 'Alpha', 'beta', 'delta'], 'never used first, then the longest unused')
  t.same(names('last-used', false).slice(0, 3), ['beta', 'delta', 'Alpha'], 'descending: the most recent first')
  t.same(list[0]?.name, 'beta', 'the list given is not reordered')
})

t.test('search filters by name as typed; a header click sorts, a second one turns the order round', async (t) => {
  const list = [token('ci-deploy'), token('Nightly export'), token('deploy-preview')]
  t.same(filterByName(list, 'DEPLOY').map((x) => x.name), ['ci-deploy', 'deploy-preview'])
  t.same(filterByName(list, '  export ').map((x) => x.name), ['Nightly export'])
  t.equal(filterByName(list, '').length, 3)
  t.equal(filterByName(list, 'nothing').length, 0)
  t.same(nextSort({ key: 'name', ascending: true }, 'name'), { key: 'name', ascending: false })
  t.same(nextSort({ key: 'name', ascending: false }, 'expiry'), { key: 'expiry', ascending: true })
})
