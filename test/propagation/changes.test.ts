/**
 * Which answers wait for the other instances: two instances in one process sharing the embedded
 * store (and so instances.db). Each change that takes access away is confirmed by both and
 * refused by the other instance's next request; other changes answer without `propagation`.
 * Then EventStoreDB (the gRPC double): with Redis the instances find each other, without it
 * each confirms alone.
 */
import { join } from 'node:path'
import t from 'tap'
import { OWNER, START, startApp, type TestApp } from '../support/app.js'
import { startEsdbDouble } from '../support/esdb-double.js'
import { ensureRedis, REDIS_URL } from '../support/redis.js'
import { waitFor } from '../support/wait-for.js'

const TOKENS = '/v3/stacks/management_tokens'
const BOTH = { instances: 2, confirmed: 2 }

const ask = async (x: TestApp, apiKey: string, secret: string, uri = '/v3/content_types/a/entries') =>
  (await x.call({ method: 'GET', url: '/v3/authorize', apiKey, headers: { authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri } })).statusCode

t.test('revoke, rotation with no grace, the end of a grace, scope, allow-list and expiry changes are confirmed by both instances', async (t) => {
  const a = await startApp(t, { clock: true })
  // b believes its proxy (inject's 127.0.0.1) on the client address, for the allow-list.
  const b = await startApp(t, { clock: true, eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}`, config: { trustProxy: ['loopback'] } })
  // b publishes once its read models have caught up; until then a would not wait for it.
  await waitFor(async () => (await a.service.propagation.confirm(0)).instances === 2, { label: 'a sees b in the registry' })
  const apiKey = await a.createStack(OWNER)
  const tok = await a.generate(apiKey, OWNER, { scope: [{ module: 'entry', acl: { read: true, write: true } }, { module: 'asset', acl: { read: true } }] })
  await waitFor(async () => (await ask(b, apiKey, tok.secret)) === 200, { label: 'b allows the token' })
  const put = async (token: Record<string, unknown>) => (await a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: { token } })).json()

  t.notOk('propagation' in (await put({ name: 'renamed' })), 'a rename takes nothing away: answered without waiting')
  t.match((await put({ scope: [{ module: 'asset', acl: { read: true } }] })).propagation, BOTH, 'scope narrowed: confirmed by both')
  t.equal(await ask(b, apiKey, tok.secret), 403, "b's next request: entries are out of scope")
  t.equal(await ask(b, apiKey, tok.secret, '/v3/assets'), 200)

  const from = async (address: string) =>
    (await b.call({ method: 'GET', url: '/v3/authorize', apiKey, headers: { authorization: tok.secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets', 'x-forwarded-for': address } })).statusCode
  t.match((await put({ allowed_ips: ['192.0.2.0/24'] })).propagation, BOTH, 'an allow-list set: confirmed by both')
  t.equal(await from('192.0.2.9'), 200, "b's next request from the list")
  t.match((await put({ allowed_ips: ['192.0.2.1'] })).propagation, BOTH, 'allow-list narrowed: confirmed by both')
  t.equal(await from('192.0.2.9'), 403, "b's next request: the address is out of the list")
  await put({ allowed_ips: [] })

  b.clock?.advance(120_000)
  t.equal(await ask(b, apiKey, tok.secret, '/v3/assets'), 200, 'no expiry yet')
  t.match((await put({ expires_on: new Date(START.getTime() + 60_000).toISOString() })).propagation, BOTH, 'expiry shortened: confirmed by both')
  t.equal(await ask(b, apiKey, tok.secret, '/v3/assets'), 401, "b's next request: expired by its clock")
  b.clock?.set(START)
  t.equal(await ask(b, apiKey, tok.secret, '/v3/assets'), 200)

  const rotate = async (grace: number) => (await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: grace } })).json()
  const graced = await rotate(600)
  t.notOk('propagation' in graced, 'a rotation with grace takes nothing away yet')
  const replaced = await rotate(0)
  t.match(replaced.propagation, BOTH, 'rotation with no grace: confirmed by both')
  t.equal(await ask(b, apiKey, graced.token.token, '/v3/assets'), 401, "b's next request: the previous secret is out")
  t.equal(await ask(b, apiKey, replaced.token.token, '/v3/assets'), 200)

  const current = await rotate(600)
  await waitFor(async () => (await ask(b, apiKey, current.token.token, '/v3/assets')) === 200, { label: 'b allows the new secret' })
  t.equal(await ask(b, apiKey, replaced.token.token, '/v3/assets'), 200, 'the previous secret works during the grace')
  const ended = (await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}/previous_secret`, as: OWNER, apiKey })).json()
  t.match(ended.propagation, BOTH, 'grace ended: confirmed by both')
  t.equal(await ask(b, apiKey, replaced.token.token, '/v3/assets'), 401, "b's next request: the previous secret is out")

  const revoked = (await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json()
  t.match(revoked.propagation, BOTH, 'revoke: confirmed by both')
  t.equal(await ask(b, apiKey, current.token.token, '/v3/assets'), 401, "b's next request: revoked")
})

t.test('on EventStoreDB (the gRPC double) with Redis: a revoke is confirmed by both instances', async (t) => {
  await ensureRedis()
  const double = await startEsdbDouble()
  t.teardown(() => double.stop())
  const config = { redisUrl: REDIS_URL }
  const a = await startApp(t, { eventStoreUrl: double.url, config })
  const b = await startApp(t, { eventStoreUrl: double.url, config })
  const apiKey = await a.createStack(OWNER)
  const tok = await a.generate(apiKey, OWNER)
  // The registry is scoped by the store's first event: both find each other once it exists.
  await waitFor(async () => (await a.service.propagation.confirm(0)).instances === 2, { label: 'a sees b through Redis' })
  await waitFor(async () => (await ask(b, apiKey, tok.secret)) === 200, { label: 'b allows the token' })
  const revoked = (await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json()
  t.match(revoked.propagation, BOTH, 'revoke: confirmed by both')
  t.equal(await ask(b, apiKey, tok.secret), 401, "b's next request: revoked")
})

t.test('on EventStoreDB without Redis: each instance confirms alone', async (t) => {
  const double = await startEsdbDouble()
  t.teardown(() => double.stop())
  const a = await startApp(t, { eventStoreUrl: double.url })
  const apiKey = await a.createStack(OWNER)
  const tok = await a.generate(apiKey, OWNER)
  const revoked = (await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json()
  t.same(revoked.propagation, { instances: 1, confirmed: 1, ms: 0 })
  t.ok(a.logs().some((l) => typeof l.msg === 'string' && l.msg.startsWith('EventStoreDB without REDIS_URL')), 'start-up said so')
})
