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

t.test("the authorizer's counters unreachable: the service logs it and answers without limits", async (t) => {
  const a = await startApp(t, { config: { redisUrl: 'redis://127.0.0.1:1' } })
  const apiKey = await a.createStack(OWNER)
  const tok = await a.generate(apiKey, OWNER)
  const res = await a.app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: tok.secret, ...ENTRIES } })
  t.equal(res.statusCode, 200, 'allowed, not rate-limited')
  t.ok(
    a.logs().some((l) => l.level === 40 && l.msg === 'rate-limit counters unavailable; request not rate-limited'),
    'warned through the service logger',
  )
})
