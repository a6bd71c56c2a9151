/**
 * Idempotency-Key across a deployment: a client retrying through a load balancer reaches another
 * instance. Two service instances share one event store (the embedded SQLite file, and
 * EventStoreDB through the gRPC double); each has its own read models.
 */
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
import { FaultyStore, OWNER, READ_ENTRIES, startApp, type TestApp } from '../support/app.js'
import { startEsdbDouble } from '../support/esdb-double.js'

const TOKENS = '/v3/stacks/management_tokens'

const replicas = async (t: Test, store: 'sqlite' | 'esdb'): Promise<{ a: TestApp; b: TestApp; faulty: FaultyStore[] }> => {
  // A replay waits for this instance's read models, fed by a poll whose timer is unref'd (a
  // listening server keeps the process alive; `inject` does not): hold the event loop open.
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(alive))
  const faulty: FaultyStore[] = []
  const wrapStore = (s: ConstructorParameters<typeof FaultyStore>[0]) => {
    const f = new FaultyStore(s)
    faulty.push(f)
    return f
  }
  if (store === 'esdb') {
    const double = await startEsdbDouble()
    t.teardown(() => double.stop())
    return { a: await startApp(t, { eventStoreUrl: double.url, wrapStore }), b: await startApp(t, { eventStoreUrl: double.url, wrapStore }), faulty }
  }
  const a = await startApp(t, { wrapStore })
  const b = await startApp(t, { eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}`, wrapStore })
  return { a, b, faulty }
}

for (const store of ['sqlite', 'esdb'] as const) {
  t.test(`a retry on another instance replays, appending nothing (${store})`, async (t) => {
    const { a, b, faulty } = await replicas(t, store)
    const key = { 'idempotency-key': 'retry-1' }
    const create = { stack: { name: 'Replicated' } }
    const s1 = await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: create, headers: key })
    t.equal(s1.statusCode, 201)
    const apiKey = s1.json().stack.api_key as string
    const s2 = await b.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: create, headers: key })
    t.equal(s2.statusCode, 201)
    t.equal(s2.headers['idempotent-replayed'], 'true', 'the create of a new stack replays on the other instance')
    t.same(s2.json(), s1.json(), 'one stack, the same answer')
    t.same(await a.eventTypes(apiKey), ['StackCreated'])

    const body = { token: { name: 'ci', scope: READ_ENTRIES } }
    const headers = { 'idempotency-key': 'retry-2' }
    const g1 = await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body, headers })
    t.equal(g1.statusCode, 201)
    const g2 = await b.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body, headers })
    t.equal(g2.statusCode, 201)
    t.equal(g2.headers['idempotent-replayed'], 'true')
    const { token: secret, ...shown } = g1.json().token
    t.same(g2.json().token, shown, 'the same token, without its secret')
    t.notOk(JSON.stringify(g2.json()).includes(secret as string))
    t.same(await a.eventTypes(apiKey), ['StackCreated', 'TokenGenerated'], 'no second token')
    const listed = await b.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey })
    t.same(listed.json().tokens.map((x: { uid: string }) => x.uid), [shown.uid], "the replaying instance's read models have the token")

    const uid = shown.uid as string
    const rotate = { previous_expires_in_seconds: 30 }
    const r1 = await b.call({ method: 'POST', url: `${TOKENS}/${uid}/rotate`, as: OWNER, apiKey, body: rotate, headers: { 'idempotency-key': 'retry-3' } })
    t.equal(r1.statusCode, 200)
    const r2 = await a.call({ method: 'POST', url: `${TOKENS}/${uid}/rotate`, as: OWNER, apiKey, body: rotate, headers: { 'idempotency-key': 'retry-3' } })
    t.equal(r2.headers['idempotent-replayed'], 'true')
    t.same(await a.eventTypes(apiKey), ['StackCreated', 'TokenGenerated', 'TokenRotated'], 'rotated once')
    const misused = await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: { token: { name: 'other', scope: READ_ENTRIES } }, headers })
    t.equal(misused.statusCode, 422, 'a key reused with another body is refused on the other instance too')
    t.ok(misused.json().errors['Idempotency-Key'])

    // Both instances at once, each between its read and its append: the store orders them.
    for (const f of faulty) f.yieldAfterRead = true
    const conflictsBefore = faulty.reduce((n, f) => n + f.conflicts, 0)
    const race = { 'idempotency-key': 'race-1' }
    const raceBody = { token: { name: 'raced', scope: READ_ENTRIES } }
    const [x, y] = await Promise.all([
      a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: raceBody, headers: race }),
      b.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: raceBody, headers: race }),
    ])
    for (const f of faulty) f.yieldAfterRead = false
    t.ok(faulty.reduce((n, f) => n + f.conflicts, 0) > conflictsBefore, 'the store refused the loser\'s append; it read again and replayed')
    t.same([x?.statusCode, y?.statusCode], [201, 201])
    t.equal([x, y].filter((r) => r?.headers['idempotent-replayed'] === 'true').length, 1, 'one ran, the other replayed')
    t.equal(x?.json().token.uid, y?.json().token.uid, 'the same token')
    const generated = (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === 'TokenGenerated')
    t.equal(generated.length, 2, 'one token for the raced key')
  })
}
