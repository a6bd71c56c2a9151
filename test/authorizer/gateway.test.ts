import Fastify from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import t, { type Test } from 'tap'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: unknown
}

/** A stand-in for the upstream CMA: records what reaches it. */
const upstream = async (t: Test) => {
  const seen: Seen[] = []
  const up = Fastify()
  up.all('/*', async (req, reply) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, body: req.body })
    return reply.header('x-upstream', 'yes').send({ from: 'upstream', url: req.url })
  })
  const url = await up.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => up.close())
  return { url, seen }
}

const setup = async (t: Test) => {
  fakeWallClock(t)
  const up = await upstream(t)
  const f = await authorizerFixture(t, { upstreamUrl: up.url, planReadLimit: 100, planWriteLimit: 100 })
  const app = await appOver(t, f.deps)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, {
    scope: [
      { module: 'entry', acl: { read: true, write: true } },
      { module: 'role', acl: { read: true, write: false } },
      { module: 'audit_log', acl: { read: true, write: false } },
    ],
  })
  return { up, f, app, apiKey, tok }
}

t.test('an allowed request is proxied without its secret, with the token identity', async (t) => {
  const { up, app, apiKey, tok } = await setup(t)
  const res = await app.inject({ method: 'GET', url: '/v3/content_types/blog/entries?locale=fr-fr', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { from: 'upstream', url: '/v3/content_types/blog/entries?locale=fr-fr' })
  t.equal(res.headers['x-upstream'], 'yes')
  t.equal(res.headers['x-ratelimit-limit'], '100', 'rate-limit headers on the proxied response')
  t.equal(res.headers['x-ratelimit-remaining'], '99')
  t.match(res.headers.ratelimit, /"token";r=99;t=1/)
  const seen = up.seen[0] as Seen
  t.equal(seen.headers.authorization, undefined, 'the secret is stripped')
  t.equal(seen.headers['x-token-uid'], tok.uid)
  t.equal(seen.headers['x-stack-api-key'], apiKey)
  t.equal(seen.headers.api_key, apiKey)
  t.notMatch(JSON.stringify(seen.headers), tok.secret)

  const post = await app.inject({
    method: 'POST',
    url: '/v3/content_types/blog/entries',
    headers: { api_key: apiKey, authorization: `Bearer ${tok.secret}`, 'content-type': 'application/json' },
    payload: { entry: { title: 'Hello' } },
  })
  t.equal(post.statusCode, 200)
  t.same((up.seen[1] as Seen).body, { entry: { title: 'Hello' } }, 'the body is passed through')
})

t.test('a denied request never reaches the upstream', async (t) => {
  const { up, app, apiKey, tok } = await setup(t)
  const cases: Array<[string, string, Record<string, string>, number]> = [
    ['GET', '/v3/assets', { api_key: apiKey, authorization: tok.secret }, 403],
    ['GET', '/v3/content_types/a/entries', { api_key: apiKey, authorization: newSecret() }, 401],
    ['GET', '/v3/content_types/a/entries', { authorization: tok.secret }, 412],
    ['GET', '/v3/content_types/a/entries', { api_key: apiKey, authorization: tok.secret, branch: 'dev' }, 422],
    ['POST', '/v3/organizations/x/share', { api_key: apiKey, authorization: tok.secret }, 403],
    ['GET', '/v3/unknown', { api_key: apiKey, authorization: tok.secret }, 403],
  ]
  for (const [method, url, headers, status] of cases) {
    const res = await app.inject({ method: method as 'GET', url, headers })
    t.equal(res.statusCode, status, `${method} ${url} -> ${status}`)
    t.type(res.json().error_code, 'number')
    t.equal(res.headers['x-mt-error-code'], String(res.json().error_code), 'the error code in a header, for gateways')
    t.equal(res.headers['x-mt-error-message'], res.json().error_message)
  }
  t.equal(up.seen.length, 0)
})

t.test("the service's own routes are not shadowed by the proxy", async (t) => {
  const { up, app, apiKey, tok } = await setup(t)
  const stacks = await app.inject({ method: 'GET', url: '/v3/stacks', headers: { api_key: apiKey } })
  t.equal(stacks.statusCode, 401, 'GET /v3/stacks is the service route (authtoken required)')
  t.match(stacks.json().error_message, /authtoken/)
  const tokens = await app.inject({ method: 'GET', url: '/v3/stacks/management_tokens', headers: { api_key: apiKey, authtoken: 'x' } })
  t.equal(tokens.statusCode, 401, 'management tokens routes are the service routes')
  const audit = await app.inject({ method: 'GET', url: '/v3/audit-logs', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(audit.statusCode, 200, 'the audit log is the service route, admitting the token')
  t.ok(Array.isArray(audit.json().logs))
  const rolesByAuthtoken = await app.inject({ method: 'GET', url: '/v3/roles', headers: { api_key: apiKey, authtoken: 'x' } })
  t.equal(rolesByAuthtoken.statusCode, 401, 'GET /v3/roles with an authtoken is the service route')
  const forward = await app.inject({ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/a/entries', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(forward.statusCode, 200, 'forward-auth still answers')
  t.equal(forward.body, '')
  t.equal(up.seen.length, 0, 'none of these reached the upstream')

  const rolesByToken = await app.inject({ method: 'GET', url: '/v3/roles', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(rolesByToken.statusCode, 200, 'GET /v3/roles with a management token goes upstream (role scope)')
  t.same(rolesByToken.json(), { from: 'upstream', url: '/v3/roles' })
  const role = await app.inject({ method: 'GET', url: '/v3/roles/blt1', headers: { api_key: apiKey, authorization: tok.secret } })
  t.same(role.json(), { from: 'upstream', url: '/v3/roles/blt1' })
  const roleWrite = await app.inject({ method: 'POST', url: '/v3/roles', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(roleWrite.statusCode, 403, 'a role write with a read-only role scope')
  t.equal(up.seen.length, 2)
})
