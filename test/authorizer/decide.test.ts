import t, { type Test } from 'tap'
import { createAuthorizer, type Decision, type DenialReason } from '../../src/authorizer/decide.js'
import { type DenialAnswer, denialAnswer } from '../../src/authorizer/denial.js'
import { cachedRoute } from '../../src/authorizer/path-modules.js'
import { authorizerFixture, fakeWallClock, input, newApiKey, newSecret } from '../support/authorizer-fixtures.js'

/** A denial for `reason`, answered with `status` and `code`: its answer (denial.ts), for the words. */
const denied = (t: Test, d: Decision, status: number, code: number, outcome: string, reason: DenialReason): DenialAnswer | undefined => {
  if (d.allowed) {
    t.fail(`expected ${reason}, got allowed`)
    return undefined
  }
  t.equal(d.reason, reason, `reason ${reason}`)
  t.equal(d.outcome, outcome, `outcome ${outcome}`)
  const a = denialAnswer(d)
  t.equal(a.status, status, `status ${status}`)
  t.equal(a.errorCode, code, `error_code ${code}`)
  t.ok(a.message.length > 10, 'says what was wrong')
  return a
}
const reasonOf = (d: Decision) => (d.allowed ? 'allowed' : d.reason)

t.test('decision order: 412 stack, 401 token, 401 expired, 403 scope, 422 branch, 429 rate limit, allow', async (t) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, { planReadLimit: 1000, planWriteLimit: 1000, authFailureLimit: 1000 })
  const apiKey = await f.createStack()
  const other = await f.createStack()
  const reader = await f.generateToken(apiKey, { scope: [{ module: 'content_type', acl: { read: true, write: false } }] })
  const a = createAuthorizer(f.deps)
  const auth = (over: Parameters<typeof input>[0]) => a.authorize(input({ apiKey, authorization: reader.secret, ...over })) as Decision

  t.test('412: api_key missing, then unknown, before anything about the token', async (t) => {
    const e1 = denied(t, auth({ apiKey: undefined, authorization: undefined }), 412, 109, 'no_stack', 'missing-api-key')
    t.match(e1?.message ?? '', /missing/)
    t.same(e1?.errors, { api_key: ['The api_key header is missing.'] })
    const e2 = denied(t, auth({ apiKey: newApiKey() }), 412, 109, 'no_stack', 'unknown-stack')
    t.match(e2?.message ?? '', /not valid/)
    denied(t, auth({ apiKey: newApiKey(), authorization: newSecret() }), 412, 109, 'no_stack', 'unknown-stack')
  })

  t.test('401 (105): missing, malformed, unknown, another stack', async (t) => {
    t.same(denied(t, auth({ authorization: undefined }), 401, 105, 'unauthorized', 'missing-token')?.errors, { authorization: ['is required'] })
    denied(t, auth({ authorization: 'not-a-secret' }), 401, 105, 'unauthorized', 'malformed-token')
    denied(t, auth({ authorization: `cs${'A'.repeat(32)}` }), 401, 105, 'unauthorized', 'malformed-token')
    t.same(denied(t, auth({ authorization: newSecret() }), 401, 105, 'unauthorized', 'unknown-token')?.errors, { authorization: ['is not a valid management token'] })
    const e = denied(t, auth({ apiKey: other }), 401, 105, 'unauthorized', 'token-of-other-stack')
    t.same(e?.errors, { authorization: ['belongs to another stack'] })
  })

  t.test('the token may come raw or as Bearer (any case)', async (t) => {
    t.equal(auth({}).allowed, true)
    t.equal(auth({ authorization: `Bearer ${reader.secret}` }).allowed, true)
    t.equal(auth({ authorization: `bearer ${reader.secret}` }).allowed, true)
    t.equal(auth({ authorization: `  ${reader.secret} ` }).allowed, true)
  })

  t.test('401 (105) comes before 403: a forbidden path with an unknown token is 401', async (t) => {
    denied(t, auth({ authorization: newSecret(), path: '/v3/stacks/settings' }), 401, 105, 'unauthorized', 'unknown-token')
  })

  t.test('403 (162): method, unknown path, forbidden module, missing scope', async (t) => {
    t.same(denied(t, auth({ method: 'OPTIONS' }), 403, 162, 'forbidden', 'method-not-allowed')?.errors, { method: ['is not allowed'] })
    t.same(denied(t, auth({ path: '/v3/nowhere' }), 403, 162, 'forbidden', 'unknown-path')?.errors, { path: ['is not a known CMA path'] })
    const long = denied(t, auth({ path: `/v3/${'x'.repeat(300)}?q=1` }), 403, 162, 'forbidden', 'unknown-path')
    t.ok((long?.message.length ?? 999) < 300, 'a long path is cut in the message')
    t.match(denied(t, auth({ path: '/v3/stacks/management_tokens' }), 403, 162, 'forbidden', 'never-allowed')?.message ?? '', /never allowed on management tokens/)
    t.same(denied(t, auth({ method: 'POST' }), 403, 162, 'forbidden', 'module-not-in-scope')?.errors, { scope: ['lacks content_type write'] })
    t.same(denied(t, auth({ path: '/v3/assets' }), 403, 162, 'forbidden', 'module-not-in-scope')?.errors, { scope: ['lacks asset read'] })
    t.equal(auth({ method: 'HEAD' }).allowed, true, 'HEAD is a read')
  })

  t.test('403 (162): what cannot be judged as one request, in the words of the refusal', async (t) => {
    t.same(denied(t, auth({ path: '/v3/assets%2fx' }), 403, 162, 'forbidden', 'uri-not-canonical')?.errors, { path: ['could be read two ways'] })
    const refusal = { refused: 'The branch header is repeated; send it once.', field: 'branch', problem: 'is repeated' }
    const d = a.authorize({ ...input({ apiKey, authorization: reader.secret }), refusal }) as Decision
    t.match(d, { reason: 'not-judgeable', refusal }, 'the surface refusal, before anything else')
    t.same(denied(t, d, 403, 162, 'forbidden', 'not-judgeable')?.errors, { branch: ['is repeated'] })
    t.equal(reasonOf(a.authorize({ ...input({}), refusal }) as Decision), 'not-judgeable', 'even before the api_key')
  })

  t.test('422 (901): branch comes after scope', async (t) => {
    denied(t, auth({ branch: 'development', path: '/v3/assets' }), 403, 162, 'forbidden', 'module-not-in-scope')
    t.same(denied(t, auth({ branch: 'development' }), 422, 901, 'branch', 'branch-not-in-scope')?.errors, { branch: ['is not in the token scope'] })
    t.equal(auth({ branch: 'main' }).allowed, true, 'main without a branch entry')
    t.equal(auth({ branch: '' }).allowed, true, 'an empty branch header means main')
  })

  t.test('429 comes last, after an allowed decision would be made', async (t) => {
    const w = await f.generateToken(apiKey, { scope: [{ module: 'entry', acl: { read: true, write: true } }], rate_limit: { read: 5, write: 2 } })
    const write = () => a.authorize(input({ apiKey, authorization: w.secret, method: 'PUT', path: '/v3/content_types/blog/entries/blt1' })) as Decision
    t.equal(write().allowed, true)
    t.equal(write().allowed, true)
    const over = write()
    const e = denied(t, over, 429, 429, 'rate_limited', 'rate-limited')
    t.match(over, { budget: 'token', access: 'write', limit: 2 }, 'the facts of the message')
    t.equal(e?.headerRecord()['retry-after'], '1')
    denied(t, a.authorize(input({ apiKey, authorization: w.secret, method: 'PUT', path: '/v3/assets' })) as Decision, 403, 162, 'forbidden', 'module-not-in-scope')
  })
})

t.test('expiry to the millisecond, with the injected clock', async (t) => {
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const at = Date.parse('2030-06-01T00:00:00.000Z')
  const tok = await f.generateToken(apiKey, { expires_on: new Date(at).toISOString() })
  const a = createAuthorizer(f.deps)
  const auth = () => a.authorize(input({ apiKey, authorization: tok.secret })) as Decision
  f.clock.ms = at - 1
  t.equal(auth().allowed, true, '1 ms before')
  f.clock.ms = at
  const d = auth()
  t.equal(d.allowed, false, 'at the instant')
  t.match(d, { reason: 'token-expired', expiresAt: at }, 'the instant it expired')
  t.match(denied(t, d, 401, 106, 'expired', 'token-expired')?.message, /2030-06-01T00:00:00.000Z/)
  t.test('expired comes before 403', async (t) => {
    const d = a.authorize(input({ apiKey, authorization: tok.secret, path: '/v3/stacks' })) as Decision
    t.equal(reasonOf(d), 'token-expired')
  })
})

t.test('scope semantics', async (t) => {
  const f = await authorizerFixture(t, { planReadLimit: 1000, planWriteLimit: 1000 })
  const apiKey = await f.createStack()
  const a = createAuthorizer(f.deps)
  const check = async (scope: Parameters<typeof f.generateToken>[1], req: Parameters<typeof input>[0]) => {
    const tok = await f.generateToken(apiKey, scope)
    return a.authorize(input({ apiKey, authorization: tok.secret, ...req })) as Decision
  }

  t.test('$all covers every allowed module, never the forbidden ones', async (t) => {
    const all = await f.generateToken(apiKey)
    for (const path of ['/v3/content_types', '/v3/assets/x', '/v3/stacks/branches', '/v3/taxonomies', '/v3/audit-logs'])
      t.equal((a.authorize(input({ apiKey, authorization: all.secret, path, method: 'GET' })) as Decision).allowed, true, path)
    for (const path of ['/v3/stacks', '/v3/stacks/management_tokens', '/v3/organizations/x', '/v3/user-session'])
      t.equal((a.authorize(input({ apiKey, authorization: all.secret, path, method: 'GET' })) as Decision).allowed, false, path)
  })
  t.test('audit_log is read-only even under $all write', async (t) => {
    t.equal((await check({}, { path: '/v3/audit-logs', method: 'GET' })).allowed, true)
    t.equal((await check({}, { path: '/v3/audit-logs', method: 'POST' })).allowed, false)
    t.equal((await check({ scope: [{ module: 'audit_log', acl: { read: true, write: true } }] }, { path: '/v3/audit-logs', method: 'DELETE' })).allowed, false)
  })
  t.test('write does not imply read, read does not imply write', async (t) => {
    const w = { scope: [{ module: 'asset', acl: { read: false, write: true } }] }
    t.equal((await check(w, { path: '/v3/assets', method: 'POST' })).allowed, true)
    t.equal((await check(w, { path: '/v3/assets', method: 'GET' })).allowed, false)
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'])
      t.equal((await check({ scope: [{ module: 'asset', acl: { read: true, write: false } }] }, { path: '/v3/assets/x', method })).allowed, false, method)
  })
  t.test('branches and aliases', async (t) => {
    const scope = {
      scope: [
        { module: 'entry', acl: { read: true, write: true } },
        { module: 'branch', acl: { read: true, write: false }, branches: ['main', 'development'] },
        { module: 'branch_alias', acl: { read: true, write: false }, branch_aliases: ['deploy'] },
      ],
    }
    const path = '/v3/content_types/blog/entries'
    t.equal((await check(scope, { path, branch: 'development' })).allowed, true, 'listed branch')
    t.equal((await check(scope, { path, branch: 'deploy' })).allowed, true, 'listed alias')
    t.equal((await check(scope, { path })).allowed, true, 'main by default')
    const d = await check(scope, { path, branch: 'staging' })
    t.match(d, { reason: 'branch-not-in-scope', branch: 'staging' }, 'unlisted branch')
    const noMain = { scope: [{ module: '$all', acl: { read: true, write: true }, branches: ['development'] }] }
    const d2 = await check(noMain, { path })
    t.match(d2, { reason: 'branch-not-in-scope', branch: 'main' }, 'a branch list without main excludes main')
    t.equal((await check(noMain, { path, branch: 'development' })).allowed, true)
    const aliasOnAll = { scope: [{ module: '$all', acl: { read: true, write: true }, branch_aliases: ['live'] }] }
    t.equal((await check(aliasOnAll, { path, branch: 'live' })).allowed, true, 'aliases on $all count')
    const ignored = { scope: [{ module: 'entry', acl: { read: true, write: true }, branches: ['x'], branch_aliases: ['y'] }] }
    const d3 = await check(ignored, { path, branch: 'x' })
    t.equal(reasonOf(d3), 'branch-not-in-scope', 'branches on another module grant nothing')
  })
})

t.test('rotation grace and revocation', async (t) => {
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const a = createAuthorizer(f.deps)
  const auth = (secret: string) => a.authorize(input({ apiKey, authorization: secret })) as Decision
  const { secret } = await f.rotate(apiKey, tok.uid, tok.secret, 60_000)
  t.equal(auth(secret).allowed, true, 'new secret')
  t.equal(auth(tok.secret).allowed, true, 'old secret during its grace')
  f.clock.ms += 59_999
  t.equal(auth(tok.secret).allowed, true, '1 ms before the grace ends')
  f.clock.ms += 1
  const d = auth(tok.secret)
  t.same(denied(t, d, 401, 105, 'unauthorized', 'token-rotated-out')?.errors, { authorization: ['was rotated out'] }, 'rotated out at the instant')
  const again = await f.rotate(apiKey, tok.uid, secret, 0)
  t.equal(auth(secret).allowed, false, 'no grace: the old secret stops at once')
  t.equal(auth(again.secret).allowed, true)
  await f.revoke(apiKey, tok.uid)
  const r = auth(again.secret)
  t.equal(reasonOf(r), 'unknown-token', 'revoked')
})

t.test('the failed-authentication limiter throttles an address, never a valid token', async (t) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, { authFailureLimit: 3 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const a = createAuthorizer(f.deps)
  const guess = (clientAddress: string) => a.authorize(input({ apiKey, authorization: newSecret(), clientAddress })) as Decision
  for (let i = 0; i < 3; i++) t.equal((guess('10.0.0.1') as { outcome: string }).outcome, 'unauthorized', `guess ${i + 1}`)
  const d = guess('10.0.0.1')
  t.match(d, { reason: 'auth-rate-limited', retryAfter: 60 })
  t.equal(denied(t, d, 429, 429, 'auth_throttled', 'auth-rate-limited')?.headerRecord()['retry-after'], '60')
  t.equal((a.authorize(input({ apiKey, authorization: tok.secret, clientAddress: '10.0.0.1' })) as Decision).allowed, true, 'a valid token from the same address passes')
  t.equal(guess('10.0.0.2').outcome, 'unauthorized', 'another address is not throttled')
  t.equal((a.authorize(input({ apiKey, authorization: newSecret() })) as Decision).outcome, 'unauthorized', 'no address: not counted')
  const rotatedAway = await f.rotate(apiKey, tok.uid, tok.secret, 0)
  t.equal((a.authorize(input({ apiKey, authorization: tok.secret, clientAddress: '10.0.0.1' })) as Decision).outcome, 'auth_throttled', 'a rotated-out secret counts as a failure')
  t.equal((a.authorize(input({ apiKey, authorization: rotatedAway.secret, clientAddress: '10.0.0.1' })) as Decision).allowed, true)
})

t.test('metrics: decisions by outcome and latency on the given registry', async (t) => {
  const f = await authorizerFixture(t)
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const a = createAuthorizer(f.deps)
  const b = createAuthorizer(f.deps) // a second authorizer on the same registry shares the series
  a.authorize(input({ apiKey, authorization: tok.secret }))
  b.authorize(input({ apiKey, authorization: newSecret() }))
  a.authorize(input({}))
  const text = await f.deps.metrics.metrics()
  t.match(text, /authorizer_decisions_total\{outcome="allow"\} 1/)
  t.match(text, /authorizer_decisions_total\{outcome="unauthorized"\} 1/)
  t.match(text, /authorizer_decisions_total\{outcome="no_stack"\} 1/)
  t.match(text, /authorizer_decision_seconds_count 3/)
  t.match(text, /projection_lag_events 0/)
  t.match(text, /projection_lag_seconds 0/)
  t.match(text, /projection_position \d+/)
  t.notMatch(text, new RegExp(tok.secret), 'never a secret')

  t.test('lag counts events the read models do not have yet', async (t) => {
    await f.deps.projector.stop()
    await f.append(apiKey, 'TokenRevoked', { token_uid: tok.uid })
    await f.append(apiKey, 'TokenRevoked', { token_uid: tok.uid })
    const lagged = await f.deps.metrics.metrics()
    t.match(lagged, /projection_lag_events 2/)
    t.match(lagged, /projection_lag_seconds \d/)
  })
})

t.test('without a metrics registry the authorizer keeps its own', async (t) => {
  const f = await authorizerFixture(t)
  const { metrics: _m, projector: _p, store: _s, ...bare } = f.deps
  const a = createAuthorizer(bare)
  t.equal((a.authorize(input({})) as Decision).outcome, 'no_stack')
  await a.close()
})

t.test('bounded caches keep answering correctly when full', async (t) => {
  const f = await authorizerFixture(t, { planReadLimit: 1000 })
  const apiKey = await f.createStack()
  const one = await f.generateToken(apiKey)
  const two = await f.generateToken(apiKey)
  const a = createAuthorizer(f.deps, { cacheSize: 1 })
  for (let i = 0; i < 3; i++)
    for (const tok of [one, two]) t.equal((a.authorize(input({ apiKey, authorization: tok.secret })) as Decision).allowed, true)
  await f.revoke(apiKey, one.uid)
  t.equal((a.authorize(input({ apiKey, authorization: one.secret })) as Decision).outcome, 'unauthorized', 'a cached token is dropped once its revocation is projected')
  t.equal((a.authorize(input({ apiKey, authorization: two.secret })) as Decision).allowed, true)

  const route = cachedRoute(1)
  const targets = ['/v3/assets', '/v3/locales', '/v3/assets', '/v3/nope', '/v3/nope'].map((p) => (route(p) as { target: unknown }).target)
  t.same(targets, [{ module: 'asset' }, { module: 'locale' }, { module: 'asset' }, undefined, undefined])
  t.same(route('/v3/%61ssets/?x=1'), { path: '/v3/assets', query: '?x=1', target: { module: 'asset' }, url: '/v3/assets?x=1' })
  t.match(route('/v3/assets/..'), { refused: /"\." or "\.\." segment/ })
})
