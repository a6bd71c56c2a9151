import t from 'tap'
import type { TrustProxy } from '../../src/config.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'
import { OWNER, startApp } from '../support/app.js'

/**
 * TRUST_PROXY says whose X-Forwarded-For is believed: a client's own X-Forwarded-For moves neither
 * the failed-authentication limiter nor the audit log's remote_addr, unless the proxy it came
 * through is trusted.
 * `inject` comes from 127.0.0.1, so `loopback` stands for "the proxy in front is trusted".
 */

t.test('failed-authentication limiter: X-Forwarded-For counts only from a trusted proxy', async (t) => {
  fakeWallClock(t)
  const attempt = async (trustProxy: TrustProxy, forwardedFor: readonly string[]) => {
    const f = await authorizerFixture(t, { authFailureLimit: 2, trustProxy })
    const apiKey = await f.createStack()
    const app = await appOver(t, f.deps)
    const statuses: number[] = []
    for (const xff of forwardedFor) {
      const res = await app.inject({
        method: 'GET',
        url: '/v3/authorize',
        headers: { api_key: apiKey, authorization: newSecret(), 'x-forwarded-for': xff, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets' },
      })
      statuses.push(res.statusCode)
    }
    return statuses
  }
  const rotating = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']
  t.same(await attempt(false, rotating), [401, 401, 429, 429], 'by default a new X-Forwarded-For per guess does not dodge the limiter')
  t.same(await attempt(['loopback'], rotating), [401, 401, 401, 401], 'behind a trusted proxy, each forwarded client is counted apart')
  t.same(await attempt(['loopback'], ['203.0.113.9', '203.0.113.9', '203.0.113.9']), [401, 401, 429], 'and one forwarded client is throttled')
  t.same(await attempt(['198.51.100.7'], rotating), [401, 401, 429, 429], 'a trusted address that is not the peer does not make the header believed')
})

t.test("audit log remote_addr: the socket's address unless the proxy is trusted", async (t) => {
  const remoteAddrOf = async (trustProxy: TrustProxy) => {
    const a = await startApp(t, { config: { trustProxy } })
    const created = await a.call({
      method: 'POST',
      url: '/v3/stacks',
      as: OWNER,
      body: { stack: { name: 'Forwarded' } },
      headers: { 'x-forwarded-for': '203.0.113.50, 10.1.2.3' },
    })
    t.equal(created.statusCode, 201)
    const key = (created.json() as { stack: { api_key: string } }).stack.api_key
    const logs = (await a.call({ method: 'GET', url: '/v3/audit-logs', as: OWNER, apiKey: key })).json() as { logs: Array<{ remote_addr: string }> }
    return logs.logs[0]?.remote_addr
  }
  t.equal(await remoteAddrOf(false), '127.0.0.1', 'by default a client cannot write an address into the audit trail')
  t.equal(await remoteAddrOf(['loopback']), '10.1.2.3', 'behind a trusted loopback proxy, the first untrusted hop is the client')
  t.equal(await remoteAddrOf(['loopback', '10.0.0.0/8']), '203.0.113.50', 'with the inner proxy trusted too, the original client')
})
