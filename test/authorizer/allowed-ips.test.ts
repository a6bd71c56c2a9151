import { request } from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { managementTokens } from '../../src/authorizer/plugin.js'
import type { TrustProxy } from '../../src/config.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock } from '../support/authorizer-fixtures.js'

/**
 * A token's `allowed_ips` on every surface, against the client address the service can trust:
 * forward-auth (fastify's route and the socket fast path) believes only what a trusted proxy
 * reports; the gateway and the plugin the peer, or what a trusted proxy in front reports.
 * `inject` comes from 127.0.0.1 unless told otherwise.
 */

const ASK = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets' }

const overSocket = (port: number, headers: Record<string, string>, path = '/v3/authorize'): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode as number, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end()
  })

const setup = async (t: Test, trustProxy: TrustProxy, allowed_ips: readonly string[]) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, { trustProxy, planReadLimit: 1000 })
  const apiKey = await f.createStack()
  const listed = await f.generateToken(apiKey, { allowed_ips })
  const open = await f.generateToken(apiKey)
  const app = await appOver(t, f.deps)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  /** Forward-auth both ways (fastify's route by inject, the fast path over a socket): the same answer. */
  const ask = async (t: Test, secret: string, extra: Record<string, string> = {}, envoy = false) => {
    // Envoy describes the request by the check's own method and path under its prefix.
    const headers = { api_key: apiKey, authorization: secret, ...(envoy ? {} : ASK), ...extra }
    const url = envoy ? '/v3/authorize/envoy/v3/assets' : '/v3/authorize'
    const slow = await app.inject({ method: 'GET', url, headers })
    const fast = await overSocket(port, headers, url)
    t.equal(fast.status, slow.statusCode, 'the fast path answers as the fastify route does')
    t.equal(fast.body, slow.body)
    return { status: slow.statusCode, body: slow.body === '' ? {} : (slow.json() as Record<string, unknown>) }
  }
  return { f, apiKey, listed, open, app, ask }
}

t.test('forward-auth without a trusted proxy: a listed token is denied (fail closed), whatever the client writes', async (t) => {
  const s = await setup(t, false, ['127.0.0.1', '203.0.113.0/24'])
  const d = await s.ask(t, s.listed.secret)
  t.equal(d.status, 403)
  t.same(d.body, {
    error_message: 'The token has an IP allow-list and the client address cannot be trusted: the request is denied.',
    error_code: 162,
    errors: { client_address: ['is unknown'] },
  })
  const spoofed = await s.ask(t, s.listed.secret, { 'x-forwarded-for': '203.0.113.7', 'x-real-ip': '203.0.113.7' })
  t.equal(spoofed.status, 403, 'a client-written X-Forwarded-For or X-Real-IP does not satisfy the list')
  t.equal((await s.ask(t, s.open.secret)).status, 200, 'a token without a list is not concerned')
})

t.test('forward-auth behind a trusted proxy: its X-Forwarded-For is the client, checked against the list', async (t) => {
  const s = await setup(t, ['loopback'], ['203.0.113.0/24', '2001:db8::/32'])
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '203.0.113.7' })).status, 200, 'in the list')
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '::ffff:203.0.113.7' })).status, 200, 'an IPv4-mapped address is its IPv4 address')
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '2001:DB8::9' })).status, 200, 'IPv6, any spelling')
  const out = await s.ask(t, s.listed.secret, { 'x-forwarded-for': '198.51.100.4' })
  t.equal(out.status, 403)
  t.same(out.body, {
    error_message: 'The token may not be used from 198.51.100.4: the address is not in its allowed_ips.',
    error_code: 162,
    errors: { client_address: ['is not in allowed_ips'] },
  })
  const hops = await s.ask(t, s.listed.secret, { 'x-forwarded-for': '203.0.113.7, 198.51.100.4' })
  t.equal(hops.status, 403, "the nearest untrusted hop is the client: a client's own X-Forwarded-For entry before it does not count")
  t.equal((await s.ask(t, s.listed.secret)).status, 403, 'a trusted proxy that reports no client: denied')
  t.equal((await s.ask(t, s.listed.secret, { 'x-real-ip': '203.0.113.7' })).status, 403, 'X-Real-IP is never read')
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '198.51.100.4, 203.0.113.7' }, true)).status, 200, "Envoy: the entry it appended, the client's, is checked")
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '203.0.113.7, 198.51.100.4' }, true)).status, 403, 'Envoy: a client-written entry before it does not count')
  t.equal((await s.ask(t, s.listed.secret, {}, true)).status, 403, 'Envoy: no X-Forwarded-For, no trustworthy address')
})

t.test('narrowing the list takes effect on the next request', async (t) => {
  const s = await setup(t, ['loopback'], ['203.0.113.0/24'])
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '203.0.113.7' })).status, 200)
  await s.f.changeAllowedIps(s.apiKey, s.listed.uid, ['203.0.113.8'])
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '203.0.113.7' })).status, 403, 'narrowed')
  await s.f.changeAllowedIps(s.apiKey, s.listed.uid, [])
  t.equal((await s.ask(t, s.listed.secret, { 'x-forwarded-for': '198.51.100.4' })).status, 200, 'an empty list: any address')
})

t.test('gateway: the peer is the client unless a trusted proxy reports one', async (t) => {
  fakeWallClock(t)
  const up = Fastify()
  up.get('/*', async () => ({ upstream: true }))
  await up.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => up.close())
  const upstreamUrl = `http://127.0.0.1:${(up.server.address() as { port: number }).port}`
  const gateway = async (trustProxy: TrustProxy) => {
    const f = await authorizerFixture(t, { upstreamUrl, trustProxy })
    const apiKey = await f.createStack()
    const tok = await f.generateToken(apiKey, { allowed_ips: ['192.0.2.0/24'] })
    const app = await appOver(t, f.deps)
    return (remoteAddress: string, xff?: string) =>
      app
        .inject({ method: 'GET', url: '/v3/assets', remoteAddress, headers: { api_key: apiKey, authorization: tok.secret, ...(xff ? { 'x-forwarded-for': xff } : {}) } })
        .then((r) => r.statusCode)
  }
  const direct = await gateway(false)
  t.equal(await direct('192.0.2.10'), 200, 'a peer in the list')
  t.equal(await direct('::ffff:192.0.2.10'), 200, 'a dual-stack socket reports it mapped')
  t.equal(await direct('198.51.100.1'), 403, 'a peer outside it')
  t.equal(await direct('198.51.100.1', '192.0.2.10'), 403, 'an untrusted peer cannot claim an address')
  const proxied = await gateway(['198.51.100.1'])
  t.equal(await proxied('198.51.100.1', '192.0.2.10'), 200, "a trusted proxy's report is believed")
  t.equal(await proxied('198.51.100.1'), 403, 'without a report, the proxy itself is the client, not in the list')
})

const hostApp = async (t: Test, readModelPath: string, trustProxy: boolean) => {
  const app: FastifyInstance = Fastify({ trustProxy })
  await app.register(managementTokens, { readModelPath })
  app.get('/v3/assets', async () => ({ assets: [] }))
  t.teardown(() => app.close())
  return app
}

t.test("plugin: the host app's req.ip", async (t) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { allowed_ips: ['2001:db8::/48'] })
  const app = await hostApp(t, join(f.dir, 'a', 'read-models.db'), false)
  const call = (remoteAddress: string) => app.inject({ method: 'GET', url: '/v3/assets', remoteAddress, headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal((await call('2001:db8:0:1::5')).statusCode, 200)
  const out = await call('2001:db8:1::5')
  t.equal(out.statusCode, 403)
  t.equal(out.json().error_message, 'The token may not be used from 2001:db8:1::5: the address is not in its allowed_ips.')
  await f.changeAllowedIps(apiKey, tok.uid, ['2001:db8:1::/48'])
  t.equal((await call('2001:db8:1::5')).statusCode, 200, 'a change is seen through the read-model file')
})
