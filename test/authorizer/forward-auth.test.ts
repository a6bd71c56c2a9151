import t, { type Test } from 'tap'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'

const setup = async (t: Test, config: Parameters<typeof authorizerFixture>[1] = {}) => {
  const f = await authorizerFixture(t, { planReadLimit: 2, planWriteLimit: 2, ...config })
  const app = await appOver(t, f.deps)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { scope: [{ module: 'entry', acl: { read: true, write: false } }] })
  return { f, app, apiKey, tok }
}

t.test('Traefik ForwardAuth: X-Forwarded-Method and X-Forwarded-Uri', async (t) => {
  fakeWallClock(t)
  const { app, apiKey, tok } = await setup(t)
  const ask = (method: string, uri: string, extra: Record<string, string> = {}) =>
    app.inject({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: `Bearer ${tok.secret}`, 'x-forwarded-method': method, 'x-forwarded-uri': uri, ...extra },
    })
  const ok = await ask('GET', '/v3/content_types/blog/entries?locale=en-us')
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['x-token-uid'], tok.uid)
  t.equal(ok.headers['x-stack-api-key'], apiKey)
  t.equal(ok.headers['x-ratelimit-limit'], '2')
  t.equal(ok.headers['x-ratelimit-remaining'], '1')
  t.equal(ok.headers['ratelimit-policy'], '"token";q=2;w=1, "stack";q=2;w=1')
  t.equal(ok.headers.ratelimit, '"token";r=1;t=1, "stack";r=1;t=1')
  t.equal(ok.body, '')

  const write = await ask('POST', '/v3/content_types/blog/entries')
  t.equal(write.statusCode, 403)
  t.same(write.json(), { error_message: "The token's scope does not allow write on entry.", error_code: 162, errors: { scope: ['lacks entry write'] } })
  t.equal(write.headers['x-ratelimit-limit'], undefined, 'denials before the rate limit carry no rate-limit headers')

  t.equal((await ask('GET', '/v3/content_types/blog/entries', { branch: 'dev' })).statusCode, 422)
  t.equal((await ask('GET', '/v3/content_types/blog/entries')).statusCode, 200)
  const limited = await ask('GET', '/v3/content_types/blog/entries')
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().error_code, 429)
  t.equal(limited.headers['retry-after'], '1')
  t.equal(limited.headers['x-ratelimit-remaining'], '0')
  t.equal(limited.headers.ratelimit, '"token";r=0;t=1, "stack";r=0;t=1')

  const post = await app.inject({
    method: 'POST',
    url: '/v3/authorize',
    headers: { api_key: apiKey, authorization: newSecret(), 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets', 'content-type': 'application/json' },
    payload: '{not json',
  })
  t.equal(post.statusCode, 401, 'POST works too, and its body is never parsed')
  t.equal(post.json().error_code, 105)
  t.notMatch(post.body, /cs[0-9a-f]{32}/, 'no secret in the answer')
  t.notMatch(JSON.stringify(post.headers), /cs[0-9a-f]{32}/, 'nor in its headers')
  t.equal(post.headers['x-mt-error-code'], '105')

  const noUri = await app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(noUri.statusCode, 403, 'without the original URI the path is unknown: fail closed')
  const head = await app.inject({ method: 'HEAD', url: '/v3/authorize', headers: { api_key: apiKey, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets' } })
  t.equal(head.statusCode, 401, 'HEAD answers like GET')
  const undescribed = await app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey } })
  t.equal(undescribed.statusCode, 403, 'an undescribed request is refused before any lookup')
  t.match(undescribed.json(), { error_code: 162, errors: { uri: ['is required'] } })
})

t.test('nginx auth_request: X-Original-Method and X-Original-URI; other denials than 401 as 403 when configured', async (t) => {
  fakeWallClock(t)
  const { app, apiKey, tok } = await setup(t, { forwardAuth429As403: true, planReadLimit: 1 })
  const ask = () =>
    app.inject({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: tok.secret, 'x-original-method': 'GET', 'x-original-uri': '/v3/content_types/a/entries/b' },
    })
  const ok = await ask()
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['x-token-uid'], tok.uid)
  const limited = await ask()
  t.equal(limited.statusCode, 403, 'nginx cannot pass a 429 through')
  t.equal(limited.headers['retry-after'], '1')
  t.equal(limited.json().error_code, 429, 'the body still says rate limit')
  const other = await app.inject({
    method: 'GET',
    url: '/v3/authorize',
    headers: { api_key: apiKey, authorization: tok.secret, 'x-original-method': 'DELETE', 'x-original-uri': '/v3/stacks' },
  })
  t.equal(other.json().error_code, 162, 'a real 403 stays a 403')
  t.equal(other.headers['x-mt-status'], '403')

  // A branch nginx passes as sent: quoted in the message, bounded, and header-safe.
  const branch = `d\u00e9v${'x'.repeat(5000)}`
  const wrongBranch = await app.inject({
    method: 'GET',
    url: '/v3/authorize',
    headers: { api_key: apiKey, authorization: tok.secret, branch, 'x-original-method': 'GET', 'x-original-uri': '/v3/content_types/a/entries/b' },
  })
  t.equal(wrongBranch.statusCode, 403, 'nginx cannot pass a 422 through either')
  t.equal(wrongBranch.headers['x-mt-status'], '422', 'the real status, for nginx to restore')
  t.equal(wrongBranch.json().error_code, 901)
  t.ok(wrongBranch.json().error_message.length < 300, 'the quoted branch is bounded')
  t.same(JSON.parse(String(wrongBranch.headers['x-mt-error-body'])), wrongBranch.json(), 'the body, as a header nginx can return')
  t.match(String(wrongBranch.headers['x-mt-error-message']), /^The token is not allowed on branch "d\?vx+\.\.\."\.$/, 'the message, ASCII')
})

t.test('Envoy ext_authz HTTP: the original method and path under /v3/authorize/envoy', async (t) => {
  fakeWallClock(t)
  const { app, apiKey, tok } = await setup(t)
  const ok = await app.inject({ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/blog/entries/blt1?x=1', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['x-token-uid'], tok.uid)
  t.equal(ok.headers['x-stack-api-key'], apiKey)
  const put = await app.inject({
    method: 'PUT',
    url: '/v3/authorize/envoy/v3/content_types/blog/entries/blt1',
    headers: { api_key: apiKey, authorization: tok.secret, 'content-type': 'application/json' },
  })
  t.equal(put.statusCode, 403, 'a write with a read-only scope; an empty JSON body is not parsed')
  const unknown = await app.inject({ method: 'GET', url: '/v3/authorize/envoy/v3/../v3/stacks', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(unknown.statusCode, 403)
  const stackless = await app.inject({ method: 'DELETE', url: '/v3/authorize/envoy/v3/assets/x', headers: { authorization: tok.secret } })
  t.equal(stackless.statusCode, 412)
})

t.test('GET /metrics exposes decisions, latency and projection lag, never a secret', async (t) => {
  const { app, apiKey, tok } = await setup(t)
  await app.inject({ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/x/entries', headers: { api_key: apiKey, authorization: tok.secret } })
  await app.inject({ method: 'GET', url: '/v3/authorize/envoy/v3/content_types/x/entries', headers: { api_key: apiKey, authorization: newSecret() } })
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /text\/plain/)
  t.match(res.body, /authorizer_decisions_total\{outcome="allow"\} 1/)
  t.match(res.body, /authorizer_decisions_total\{outcome="unauthorized"\} 1/)
  t.match(res.body, /authorizer_decision_seconds_bucket/)
  t.match(res.body, /projection_lag_events 0/)
  t.notMatch(res.body, tok.secret)
})

t.test('guessing secrets from one address gets 429, a valid token from it still passes', async (t) => {
  fakeWallClock(t)
  const { app, apiKey, tok } = await setup(t, { authFailureLimit: 2, planReadLimit: 100 })
  const ask = (secret: string) =>
    app.inject({
      method: 'GET',
      url: '/v3/authorize',
      remoteAddress: '198.51.100.7',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' },
    })
  t.same([await ask(newSecret()), await ask(newSecret()), await ask(newSecret())].map((r) => r.statusCode), [401, 401, 429])
  const throttled = await ask(newSecret())
  t.equal(throttled.headers['retry-after'], '60')
  t.equal((await ask(tok.secret)).statusCode, 200)
})

t.test('the management API admits a token with audit_log read on GET /v3/audit-logs', async (t) => {
  const { f, app, apiKey, tok } = await setup(t, { planReadLimit: 100 })
  const auditor = await f.generateToken(apiKey, { scope: [{ module: 'audit_log', acl: { read: true, write: false } }] })
  const ok = await app.inject({ method: 'GET', url: '/v3/audit-logs', headers: { api_key: apiKey, authorization: auditor.secret } })
  t.equal(ok.statusCode, 200)
  t.ok(Array.isArray(ok.json().logs))
  const denied = await app.inject({ method: 'GET', url: '/v3/audit-logs', headers: { api_key: apiKey, authorization: tok.secret } })
  t.equal(denied.statusCode, 403)
  t.same(denied.json().errors, { scope: ['lacks audit_log read'] })
})
