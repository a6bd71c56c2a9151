import t from 'tap'
import { OWNER, startApp } from './support/app.js'
import { fakeWallClock, newSecret } from './support/authorizer-fixtures.js'

/** The composition root (src/service.ts): what it builds once, every surface shares. */

const ENTRIES = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' }

t.test("one authorizer per instance: forward-auth and the audit log's token check count failures together", async (t) => {
  const a = await startApp(t, { config: { authFailureLimit: 2 } })
  const apiKey = await a.createStack(OWNER)
  fakeWallClock(t)
  const from = '198.51.100.7'
  const forwardAuth = () =>
    a.app.inject({ method: 'GET', url: '/v3/authorize', remoteAddress: from, headers: { api_key: apiKey, authorization: newSecret(), ...ENTRIES } })
  const audit = () => a.app.inject({ method: 'GET', url: '/v3/audit-logs', remoteAddress: from, headers: { api_key: apiKey, authorization: newSecret() } })
  const statuses = [await forwardAuth(), await audit(), await forwardAuth(), await audit()].map((r) => r.statusCode)
  t.same(statuses, [401, 401, 429, 429], 'the third and fourth failures from the address are throttled on either surface')
})

t.test("the authorizer's counters unreachable: the service logs it once and counts in memory", async (t) => {
  const a = await startApp(t, { config: { redisUrl: 'redis://127.0.0.1:1' } })
  const apiKey = await a.createStack(OWNER)
  const tok = await a.generate(apiKey, OWNER)
  const ask = () => a.app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: tok.secret, ...ENTRIES } })
  const [one, two] = [await ask(), await ask()]
  t.equal(one.statusCode, 200, 'allowed')
  t.equal(Number(one.headers['x-ratelimit-remaining']) - Number(two.headers['x-ratelimit-remaining']), 1, 'counted, in memory')
  const warnings = a.logs().filter((l) => l.level === 40 && String(l.msg).startsWith('rate-limit counters in Redis unreachable'))
  t.equal(warnings.length, 1, 'warned once through the service logger, not per request')
  t.equal((await a.app.inject({ method: 'GET', url: '/readyz' })).json().limits, 'local')
})
