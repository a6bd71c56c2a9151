/**
 * Usage across two real service processes sharing one event store (and so usage.db beside it, or
 * one Redis): counts from both add up exactly on either instance once flushed; a SIGKILLed
 * instance loses at most what it counted since its last flush; a SIGTERMed one flushes as it stops.
 */
import { once } from 'node:events'
import { join } from 'node:path'
import t from 'tap'
import { sqliteUsageStore } from '../../src/usage/sqlite-store.js'
import { authorize, call, createStack, generate, startPair } from '../support/instance-pair.js'
import { waitFor } from '../support/wait-for.js'

const TOKENS = '/v3/stacks/management_tokens'

const uses = async (base: string, apiKey: string, secret: string, n: number) => {
  const statuses: number[] = []
  for (let i = 0; i < n; i += 1) statuses.push(await authorize(base, apiKey, secret))
  return statuses
}

const totals = async (base: string, apiKey: string): Promise<Record<string, Record<string, number>>> => {
  const { usage } = await call(base, 'GET', `${TOKENS}/usage`, apiKey)
  return Object.fromEntries((usage as Array<{ token_uid: string; totals: Record<string, number> }>).map((u) => [u.token_uid, u.totals]))
}

for (const via of ['usage.db', 'redis'] as const) {
  t.test(`counts from two instances add up exactly on either one (${via})`, async (t) => {
    const pair = await startPair(t, { redis: via === 'redis', env: { USAGE_FLUSH_MS: '200', PLAN_READ_LIMIT: '100000' } })
    const apiKey = await createStack(pair.a.base)
    const tok = await generate(pair.a.base, apiKey, 'shared')
    await waitFor(async () => (await authorize(pair.b.base, apiKey, tok.secret)) === 200, { label: 'B knows the token', intervalMs: 5 })
    // B's probe above was one allowed request: counted too.
    t.same(await uses(pair.a.base, apiKey, tok.secret, 5), [200, 200, 200, 200, 200])
    t.same(await uses(pair.b.base, apiKey, tok.secret, 6), [200, 200, 200, 200, 200, 200])
    const expected = { allowed: 12, denied: 0, rate_limited: 0, expired: 0, revoked: 0 }
    await waitFor(async () => (await totals(pair.a.base, apiKey))[tok.uid]?.allowed === 12, { label: 'A reads both instances\' counts', intervalMs: 50 })
    t.same((await totals(pair.a.base, apiKey))[tok.uid], expected, 'on A')
    t.same((await totals(pair.b.base, apiKey))[tok.uid], expected, 'on B, the same')
    const one = await call(pair.b.base, 'GET', `${TOKENS}/${tok.uid}`, apiKey)
    t.type(one.token.last_used_at, 'string')
    t.equal(one.token.last_used_from, null, 'forward-auth behind no trusted proxy: no trustworthy client address')
  })
}

t.test('SIGKILL loses at most the counts since the last flush; SIGTERM flushes before exiting', async (t) => {
  // A flush interval longer than the test: nothing is flushed by the timer.
  const pair = await startPair(t, { env: { USAGE_FLUSH_MS: '10000' } })
  const apiKey = await createStack(pair.a.base)
  const onA = await generate(pair.a.base, apiKey, 'on-a')
  const onB = await generate(pair.a.base, apiKey, 'on-b')
  await waitFor(async () => (await authorize(pair.b.base, apiKey, onB.secret)) === 200, { label: 'B knows the token', intervalMs: 5 })
  await uses(pair.b.base, apiKey, onB.secret, 3)
  t.same(await uses(pair.a.base, apiKey, onA.secret, 4), [200, 200, 200, 200])
  pair.b.child.kill('SIGKILL')
  pair.a.child.kill('SIGTERM')
  await Promise.all([once(pair.a.child, 'exit'), pair.b.child.exitCode === null && pair.b.child.signalCode === null ? once(pair.b.child, 'exit') : undefined])
  const store = sqliteUsageStore(join(pair.shared, 'usage.db'), 90)
  t.teardown(() => store.close())
  const rows = await store.buckets('minute', [onA.uid, onB.uid], 0, Date.now() + 60_000)
  const allowed = (uid: string) => rows.filter((r) => r.token_uid === uid).reduce((n, r) => n + r.allowed, 0)
  t.equal(allowed(onA.uid), 4, 'A stopped gracefully: every count flushed')
  t.ok(allowed(onB.uid) <= 4, `B killed: at most its unflushed 4 lost (${allowed(onB.uid)} kept)`)
  t.notOk(rows.some((r) => r.denied + r.rate_limited + r.expired + r.revoked > 0), 'nothing counted that did not happen')
})
