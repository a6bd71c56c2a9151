import { join } from 'node:path'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import t, { type Test } from 'tap'
import { managementTokens } from '../../src/authorizer/plugin.js'
import { sqliteUsageStore } from '../../src/usage/sqlite-store.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'

/** Another team's fastify app that enforces tokens on its own routes. */
const hostApp = async (t: Test, options: Parameters<typeof managementTokens>[1]) => {
  const app = Fastify()
  await app.register(managementTokens, options)
  app.get('/v3/content_types/:ct/entries', async (req) => ({ entries: [], token: req.managementToken }))
  app.post('/v3/content_types/:ct/entries', async () => ({ created: true }))
  app.get('/health', { config: { managementToken: false } }, async (req) => ({ ok: true, token: req.managementToken }))
  app.get('/reports/usage', { config: { managementToken: { module: 'asset' } } }, async () => ({ usage: 1 }))
  t.teardown(() => app.close())
  return app
}

t.test('with a read-model file: enforces tokens on the host app routes', async (t) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: [{ module: 'entry', acl: { read: true, write: false } }] })
  const metrics = new Registry()
  const app = await hostApp(t, { readModelPath: join(f.dir, 'a', 'read-models.db'), config: { planReadLimit: 5 }, metrics })
  const headers = { api_key: apiKey, authorization: tok.secret }

  const ok = await app.inject({ method: 'GET', url: '/v3/content_types/blog/entries', headers })
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { entries: [], token: { tokenUid: tok.uid, apiKey } })
  t.equal(ok.headers['x-ratelimit-limit'], '5')
  t.equal(ok.headers['ratelimit-policy'], '"token";q=5;w=1, "stack";q=5;w=1')

  const write = await app.inject({ method: 'POST', url: '/v3/content_types/blog/entries', headers })
  t.equal(write.statusCode, 403)
  t.same(write.json(), { error_message: "The token's scope does not allow write on entry.", error_code: 162, errors: { scope: ['lacks entry write'] } })

  const unknown = await app.inject({ method: 'GET', url: '/v3/content_types/blog/entries', headers: { api_key: apiKey, authorization: newSecret() } })
  t.equal(unknown.statusCode, 401)
  t.equal(unknown.json().error_code, 105)
  t.equal(unknown.headers['x-mt-error-code'], '105', 'the error in headers, for gateways')
  t.equal(unknown.headers['x-mt-error-message'], unknown.json().error_message)

  const open = await app.inject({ method: 'GET', url: '/health' })
  t.same(open.json(), { ok: true, token: null }, 'a route may opt out')
  const declared = await app.inject({ method: 'GET', url: '/reports/usage', headers })
  t.equal(declared.statusCode, 403, 'a route may declare its module: asset is not in scope')
  t.same(declared.json().errors, { scope: ['lacks asset read'] })

  t.test('changes appended to the store reach the plugin through the read model', async (t) => {
    await f.changeScope(apiKey, tok.uid, [{ module: 'asset', acl: { read: true, write: false } }])
    t.equal((await app.inject({ method: 'GET', url: '/reports/usage', headers })).statusCode, 200)
    await f.revoke(apiKey, tok.uid)
    t.equal((await app.inject({ method: 'GET', url: '/reports/usage', headers })).statusCode, 401)
  })
  t.match(await metrics.metrics(), /authorizer_decisions_total\{outcome="allow"\} 1/)
  t.type(app.managementTokens.authorize, 'function')
})

t.test('with in-process deps, sharing the service clock', async (t) => {
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { expires_on: new Date(f.clock.ms + 1000).toISOString() })
  const app = await hostApp(t, { deps: f.deps })
  const headers = { api_key: apiKey, authorization: tok.secret }
  t.equal((await app.inject({ method: 'GET', url: '/v3/content_types/blog/entries', headers })).statusCode, 200)
  f.clock.ms += 1000
  const expired = await app.inject({ method: 'GET', url: '/v3/content_types/blog/entries', headers })
  t.equal(expired.statusCode, 401)
  t.equal(expired.json().error_code, 106)
})

t.test('needs deps or a read-model path', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => {
    await app.register(managementTokens, {})
  }, /deps or readModelPath/)
})

t.test("with a read-model file: usage is counted into usage.db beside it, flushed when the host app closes", async (t) => {
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: [{ module: 'entry', acl: { read: true, write: false } }] })
  const app = await hostApp(t, { readModelPath: join(f.dir, 'a', 'read-models.db') })
  const headers = { api_key: apiKey, authorization: tok.secret }
  t.equal((await app.inject({ method: 'GET', url: '/v3/content_types/blog/entries', headers })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/v3/content_types/blog/entries', headers })).statusCode, 403)
  await app.close()
  const store = sqliteUsageStore(join(f.dir, 'a', 'usage.db'), 90)
  t.teardown(() => store.close())
  const rows = await store.buckets('hour', [tok.uid], 0, 4e12)
  t.same(
    rows.map((r) => [r.allowed, r.denied]),
    [[1, 1]],
  )
  t.type((await store.lastUse([tok.uid])).get(tok.uid)?.at, 'number')
})
