/**
 * The whole service on EventStoreDB, through the real `@eventstore/db-client` talking gRPC to the
 * in-process test double: commands, projections, the authorizer, an outage, and two instances.
 */
import t, { type Test } from 'tap'
import { OWNER, startApp, type TestApp } from '../support/app.js'
import { startEsdbDouble, type EsdbDouble } from '../support/esdb-double.js'
import { waitFor } from '../support/wait-for.js'

const authorize = (app: TestApp, apiKey: string, secret: string, method = 'GET', uri = '/v3/content_types/blog/entries') =>
  app.call({
    method: 'GET',
    url: '/v3/authorize',
    headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': method, 'x-forwarded-uri': uri },
  })

/** A new instance on the double, once its read models have caught up (what /readyz gates). */
const onDouble = async (t: Test, double: EsdbDouble) => {
  const app = await startApp(t, { eventStoreUrl: double.url })
  await waitFor(async () => (await app.call({ method: 'GET', url: '/readyz' })).statusCode === 200, { label: 'readyz', timeoutMs: 10_000 })
  return app
}


t.test('the service on EventStoreDB (test double)', async (t) => {
  const double = await startEsdbDouble()
  t.teardown(() => double.stop())

  t.test('commands append to the store and the read models answer', async (t) => {
    const app = await onDouble(t, double)
    const apiKey = await app.createStack(OWNER)
    const { uid, secret } = await app.generate(apiKey, OWNER)
    t.ok(double.events.some((e) => e.stream === `stack-${apiKey}` && e.type === 'TokenGenerated'), 'the event is in EventStoreDB')
    t.equal((await authorize(app, apiKey, secret)).statusCode, 200)
    const listed = await app.call({ method: 'GET', url: '/v3/stacks/management_tokens', as: OWNER, apiKey })
    t.same(listed.json().tokens.map((x: { uid: string }) => x.uid), [uid])
    t.equal((await app.call({ method: 'GET', url: '/readyz' })).statusCode, 200)
  })

  t.test('during an outage the authorizer keeps deciding and commands answer 503; afterwards the subscription resumes without gap or double', async (t) => {
    const app = await onDouble(t, double)
    const apiKey = await app.createStack(OWNER)
    const { secret } = await app.generate(apiKey, OWNER)
    const before = (await app.call({ method: 'GET', url: '/v3/audit-logs?limit=100', as: OWNER, apiKey })).json().count

    await double.stop()
    t.equal((await authorize(app, apiKey, secret)).statusCode, 200, 'allowed from the read models')
    const down = await app.call({ method: 'POST', url: '/v3/stacks/management_tokens', as: OWNER, apiKey, body: { token: { name: 'x', scope: [{ module: 'entry', acl: { read: true } }] } } })
    t.equal(down.statusCode, 503)
    t.match(down.json(), { error_code: 503, error_message: /event store is unavailable/ })

    await double.restart()
    const other = await onDouble(t, double) // a second instance appends while the first one reconnects
    const { uid } = await other.generate(apiKey, OWNER, { name: 'after-outage' })
    await waitFor(async () => (await app.call({ method: 'GET', url: `/v3/stacks/management_tokens/${uid}`, as: OWNER, apiKey })).statusCode === 200, {
      label: 'first instance sees the token generated on the second after the outage',
      timeoutMs: 15_000,
    })
    const after = (await app.call({ method: 'GET', url: '/v3/audit-logs?limit=100', as: OWNER, apiKey })).json()
    t.equal(after.count, before + 1, 'exactly one more audit entry: no gap, no double')
    t.equal(new Set(after.logs.map((l: { uid: string }) => l.uid)).size, after.count)
    const again = await app.generate(apiKey, OWNER, { name: 'again' })
    t.equal((await authorize(app, apiKey, again.secret)).statusCode, 200, 'commands work again on the first instance')
  })

  t.test('a revocation on either of two instances is enforced by the other within a bounded delay', async (t) => {
    const a = await onDouble(t, double)
    const b = await onDouble(t, double)
    const apiKey = await a.createStack(OWNER)
    for (const [revoker, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const { uid, secret } = await revoker.generate(apiKey, OWNER)
      await waitFor(async () => (await authorize(other, apiKey, secret)).statusCode === 200, { label: 'token known to the other instance', timeoutMs: 10_000 })
      const res = await revoker.call({ method: 'DELETE', url: `/v3/stacks/management_tokens/${uid}`, as: OWNER, apiKey })
      t.equal(res.statusCode, 200)
      t.equal((await authorize(revoker, apiKey, secret)).statusCode, 401, 'the revoking instance rejects at once')
      const started = performance.now()
      await waitFor(async () => (await authorize(other, apiKey, secret)).statusCode === 401, { label: 'revocation reaches the other instance', timeoutMs: 10_000, intervalMs: 1 })
      const delay = performance.now() - started
      t.comment(`revocation applied by the other instance after ${delay.toFixed(1)} ms`)
      t.ok(delay < 10_000, 'bounded')
    }
  })
})
