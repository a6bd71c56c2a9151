import { join } from 'node:path'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { managementTokens } from '../../src/authorizer/plugin.js'
import { NO_POLICY } from '../../src/domain/token-policy.js'
import { appOver } from '../support/app-over.js'
import { createAuthorizer } from '../../src/authorizer/decide.js'
import type { UsageOutcome } from '../../src/usage/port.js'
import { authorizerFixture, fakeWallClock, input } from '../support/authorizer-fixtures.js'

const DAY = 86_400_000
const READ_ENTRIES = [{ module: 'entry', acl: { read: true, write: false } }]
const ENTRIES = '/v3/content_types/blog/entries'

/** A stack with a never-expiring token, a 100-day one and a 20-day one, then a 30-day policy. */
const setup = async (t: Test, config: Parameters<typeof authorizerFixture>[1] = {}) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, config)
  const apiKey = await f.createStack()
  const at = (days: number) => new Date(f.clock.ms + days * DAY).toISOString()
  const forever = await f.generateToken(apiKey, { scope: READ_ENTRIES })
  const long = await f.generateToken(apiKey, { scope: READ_ENTRIES, expires_on: at(100) })
  const short = await f.generateToken(apiKey, { scope: READ_ENTRIES, expires_on: at(20) })
  const setMax = (max: number | null, before: number | null) =>
    f.given(apiKey, 'StackPolicySet', { policy: { ...NO_POLICY, max_lifetime_days: max }, before: { ...NO_POLICY, max_lifetime_days: before } })
  return { f, apiKey, at, forever, long, short, setMax }
}

const refusedByPolicy = (t: Test, res: { statusCode: number; json(): { error_code: number; error_message: string }; headers: Record<string, unknown> }, days: number) => {
  t.equal(res.statusCode, 401)
  t.equal(res.json().error_code, 106)
  t.match(res.json().error_message, new RegExp(`maximum lifetime of ${days} days \\(max_lifetime_days\\)`))
  t.equal(res.headers['x-mt-error-code'], '106')
}

t.test('forward-auth: refused from the request after the policy, allowed again once edited or lifted', async (t) => {
  const { f, apiKey, at, forever, long, short, setMax } = await setup(t)
  const app = await appOver(t, f.deps)
  const ask = (secret: string) =>
    app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': ENTRIES } })
  for (const tok of [forever, long, short]) t.equal((await ask(tok.secret)).statusCode, 200, 'cached before the policy')
  await setMax(30, null)
  refusedByPolicy(t, await ask(forever.secret), 30)
  refusedByPolicy(t, await ask(long.secret), 30)
  t.equal((await ask(short.secret)).statusCode, 200, 'within the policy')
  await f.changeExpiry(apiKey, long.uid, at(30))
  t.equal((await ask(long.secret)).statusCode, 200, 'edited to comply')
  await setMax(null, 30)
  t.equal((await ask(forever.secret)).statusCode, 200, 'the rule lifted')
})

t.test('gateway mode: the refused request never reaches the upstream', async (t) => {
  const up = Fastify()
  let reached = 0
  up.all('/*', async () => {
    reached += 1
    return { ok: true }
  })
  const url = await up.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => up.close())
  const { f, apiKey, forever, short, setMax } = await setup(t, { upstreamUrl: url })
  const app = await appOver(t, f.deps)
  await setMax(30, null)
  refusedByPolicy(t, await app.inject({ method: 'GET', url: ENTRIES, headers: { api_key: apiKey, authorization: forever.secret } }), 30)
  t.equal(reached, 0)
  t.equal((await app.inject({ method: 'GET', url: ENTRIES, headers: { api_key: apiKey, authorization: short.secret } })).statusCode, 200)
  t.equal(reached, 1)
})

t.test('the fastify plugin, on a read-model file another process writes and in process', async (t) => {
  const { f, apiKey, forever, short, setMax } = await setup(t)
  const fromFile = Fastify()
  await fromFile.register(managementTokens, { readModelPath: join(f.dir, 'a', 'read-models.db') })
  fromFile.get(ENTRIES, async () => ({ entries: [] }))
  t.teardown(() => fromFile.close())
  const inProcess = Fastify()
  await inProcess.register(managementTokens, { deps: f.deps })
  inProcess.get(ENTRIES, async () => ({ entries: [] }))
  t.teardown(() => inProcess.close())
  for (const app of [fromFile, inProcess]) t.equal((await app.inject({ method: 'GET', url: ENTRIES, headers: { api_key: apiKey, authorization: forever.secret } })).statusCode, 200)
  await setMax(30, null)
  for (const app of [fromFile, inProcess]) {
    refusedByPolicy(t, await app.inject({ method: 'GET', url: ENTRIES, headers: { api_key: apiKey, authorization: forever.secret } }), 30)
    t.equal((await app.inject({ method: 'GET', url: ENTRIES, headers: { api_key: apiKey, authorization: short.secret } })).statusCode, 200)
  }
})

t.test("usage counts a token refused for outliving the policy as denied, not expired", async (t) => {
  const { f, apiKey, forever, short, setMax } = await setup(t)
  const noted: Array<[string, UsageOutcome]> = []
  const a = createAuthorizer({ ...f.deps, usage: { note: (token, outcome) => noted.push([token.token_uid, outcome]) } })
  t.teardown(() => a.close())
  await setMax(30, null)
  t.match(await a.authorize(input({ apiKey, authorization: forever.secret, path: ENTRIES })), { allowed: false, reason: 'policy-lifetime' })
  t.match(await a.authorize(input({ apiKey, authorization: short.secret, path: ENTRIES })), { allowed: true })
  t.same(noted, [
    [forever.uid, 'denied'],
    [short.uid, 'allowed'],
  ])
})
