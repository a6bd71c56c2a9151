import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import {
  ADMIN,
  CONTENT_MANAGER,
  DEVELOPER,
  OWNER,
  READ_ENTRIES,
  START,
  STRANGER,
  startApp,
  type TestApp,
} from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'
/** The create response's token without its secret: what every later read shows. */
const shown = (body: Record<string, unknown>) => {
  const { token: _secret, ...rest } = body.token as Record<string, unknown>
  return rest
}
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

/** A stack owned by OWNER with an admin, a developer and a content manager, on a fake clock. */
const setup = async (t: Test) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  await a.share(apiKey, OWNER, CONTENT_MANAGER, ['content_manager'])
  return { a, apiKey }
}

const create = (a: TestApp, apiKey: string, token: unknown, as = OWNER) =>
  a.call({ method: 'POST', url: TOKENS, as, apiKey, body: { token } })

t.test('POST /v3/stacks/management_tokens', async (t) => {
  const { a, apiKey } = await setup(t)

  t.test('201 with every field and the secret, once', async (t) => {
    const res = await create(a, apiKey, {
      name: ' ci ',
      description: 'for CI',
      scope: [
        { module: 'entry', acl: { read: true, write: true } },
        { module: 'branch', acl: { read: true }, branches: ['main', 'dev'] },
      ],
      expires_on: '2027-01-01',
      rate_limit: { read: 5, write: 2 },
      is_email_notification_enabled: true,
      allowed_ips: ['192.0.2.0/24', '2001:DB8::1'],
    }, ADMIN)
    t.equal(res.statusCode, 201, res.body)
    const body = res.json()
    t.equal(body.notice, 'Management Token created successfully.')
    t.match(body.token.uid, /^blt[0-9a-f]{16}$/)
    t.match(body.token.token, /^cs[0-9a-f]{32,}$/)
    t.same(body.token, {
      uid: body.token.uid,
      name: 'ci',
      description: 'for CI',
      scope: [
        { module: 'entry', acl: { read: true, write: true } },
        { module: 'branch', acl: { read: true, write: false }, branches: ['main', 'dev'] },
      ],
      expires_on: '2027-01-01T00:00:00.000Z',
      rate_limit: { read: 5, write: 2 },
      is_email_notification_enabled: true,
      allowed_ips: ['192.0.2.0/24', '2001:db8::1'],
      created_by: 'u-admin',
      updated_by: 'u-admin',
      created_at: START.toISOString(),
      updated_at: START.toISOString(),
      last_rotated_at: null,
      previous_secret_expires_at: null,
      last_used_at: null,
      last_used_from: null,
      previous_secret_last_used_at: null,
      token: body.token.token,
    })
    const row = a.service.readDb.prepare('SELECT * FROM token_secrets WHERE token_uid = ?').get(body.token.uid) as { secret_hash: string }
    t.equal(row.secret_hash, sha256(body.token.token), 'only the SHA-256 of the secret is kept')
  })

  t.test('defaults: no description, no expiry, plan limits, no notification', async (t) => {
    const res = await create(a, apiKey, { name: 'minimal', scope: READ_ENTRIES })
    t.equal(res.statusCode, 201)
    t.match(res.json().token, { description: '', expires_on: null, rate_limit: null, is_email_notification_enabled: false })
  })

  t.test('an ISO-8601 instant is accepted as expiry', async (t) => {
    const res = await create(a, apiKey, { name: 'instant', scope: READ_ENTRIES, expires_on: '2026-03-01T12:00:00.001+00:00' })
    t.equal(res.statusCode, 201, res.body)
    t.equal(res.json().token.expires_on, '2026-03-01T12:00:00.001Z')
  })

  const rejects = (
    name: string,
    token: unknown,
    field: string,
    message: RegExp,
  ) =>
    t.test(`422 ${name}`, async (t) => {
      const before = (await a.eventTypes(apiKey)).length
      const res = await create(a, apiKey, token)
      t.equal(res.statusCode, 422, res.body)
      const body = res.json()
      t.equal(body.error_code, 119)
      t.type(body.error_message, 'string')
      t.ok(body.errors[field], `errors names ${field}: ${JSON.stringify(body.errors)}`)
      t.match(body.errors[field]?.join(' '), message)
      t.equal((await a.eventTypes(apiKey)).length, before, 'nothing appended')
    })

  rejects('unknown module, named', { name: 'x', scope: [{ module: 'spaceship', acl: { read: true } }] }, 'token.scope[0].module', /spaceship/)
  rejects('write without read', { name: 'x', scope: [{ module: 'entry', acl: { read: false, write: true } }] }, 'token.scope[0].acl', /write requires read/)
  rejects('neither read nor write', { name: 'x', scope: [{ module: 'entry' }] }, 'token.scope[0].acl', /read/)
  rejects('audit_log write', { name: 'x', scope: [{ module: 'audit_log', acl: { read: true, write: true } }] }, 'token.scope[0].acl', /read-only/)
  rejects('branch without branches', { name: 'x', scope: [{ module: 'branch', acl: { read: true } }] }, 'token.scope[0].branches', /branches/)
  rejects('branch_alias without aliases', { name: 'x', scope: [{ module: 'branch_alias', acl: { read: true } }] }, 'token.scope[0].branch_aliases', /aliases/)
  rejects('empty scope', { name: 'x', scope: [] }, 'token.scope', /at least one/)
  rejects('past expiry (a date)', { name: 'x', scope: READ_ENTRIES, expires_on: '2026-03-01' }, 'token.expires_on', /future/)
  rejects('expiry now, to the millisecond', { name: 'x', scope: READ_ENTRIES, expires_on: START.toISOString() }, 'token.expires_on', /future/)
  rejects('malformed expiry', { name: 'x', scope: READ_ENTRIES, expires_on: '2027-02-30' }, 'token.expires_on', /YYYY-MM-DD/)
  rejects('read limit over the plan', { name: 'x', scope: READ_ENTRIES, rate_limit: { read: 11, write: 1 } }, 'token.rate_limit.read', /plan limit of 10/)
  rejects('write limit over the plan', { name: 'x', scope: READ_ENTRIES, rate_limit: { read: 1, write: 11 } }, 'token.rate_limit.write', /plan limit of 10/)
  rejects('limit not a positive integer', { name: 'x', scope: READ_ENTRIES, rate_limit: { read: 0.5, write: 1 } }, 'token.rate_limit.read', /positive integer/)
  rejects('missing name', { scope: READ_ENTRIES }, 'token.name', /required/)
  rejects('blank name', { name: '  ', scope: READ_ENTRIES }, 'token.name', /required/)
  rejects('name too long', { name: 'n'.repeat(201), scope: READ_ENTRIES }, 'token.name', /at most 200/)
  rejects('description too long', { name: 'x', description: 'd'.repeat(1001), scope: READ_ENTRIES }, 'token.description', /at most 1000/)
  rejects('missing scope', { name: 'x' }, 'token.scope', /required/)
  rejects('name of the wrong type', { name: 5, scope: READ_ENTRIES }, 'token.name', /string/)
  rejects('scope entry of the wrong shape', { name: 'x', scope: [{ module: 'entry', acl: { read: 'yes' } }] }, 'token.scope[0].acl.read', /boolean/)
  rejects('no token object', undefined, 'token', /required/)

  t.test('422 on a name clash with a live token; a revoked token frees its name', async (t) => {
    const first = await a.generate(apiKey, OWNER, { name: 'deploy' })
    const clash = await create(a, apiKey, { name: 'deploy', scope: READ_ENTRIES })
    t.equal(clash.statusCode, 422)
    t.match(clash.json().errors['token.name'], [/already exists/])
    t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${first.uid}`, as: OWNER, apiKey })).statusCode, 200)
    t.equal((await create(a, apiKey, { name: 'deploy', scope: READ_ENTRIES })).statusCode, 201)
  })
})

t.test('at most 30 live tokens: the 31st is rejected and nothing is appended; revoked ones do not count', async (t) => {
  const { a, apiKey } = await setup(t)
  const made = []
  for (let i = 0; i < 30; i += 1) made.push(await a.generate(apiKey, OWNER))
  const before = await a.eventTypes(apiKey)
  const res = await create(a, apiKey, { name: 'thirty-first', scope: READ_ENTRIES })
  t.equal(res.statusCode, 422)
  t.equal(res.json().error_code, 119)
  t.match(res.json().errors.token, [/limit of 30/])
  t.same(await a.eventTypes(apiKey), before)
  await a.call({ method: 'DELETE', url: `${TOKENS}/${made[0]?.uid}`, as: OWNER, apiKey })
  t.equal((await create(a, apiKey, { name: 'thirty-first', scope: READ_ENTRIES })).statusCode, 201)
})

t.test('GET /v3/stacks/management_tokens and /:uid', async (t) => {
  const { a, apiKey } = await setup(t)
  const one = await a.generate(apiKey, OWNER, { name: 'one' })
  a.clock?.advance(1)
  const two = await a.generate(apiKey, OWNER, { name: 'two' })
  a.clock?.advance(1)
  const gone = await a.generate(apiKey, OWNER, { name: 'gone' })
  await a.call({ method: 'DELETE', url: `${TOKENS}/${gone.uid}`, as: OWNER, apiKey })
  const other = await a.createStack(STRANGER)
  await a.generate(other, STRANGER, { name: 'elsewhere' })

  t.test('lists live tokens of this stack only, oldest first, never a secret', async (t) => {
    const res = await a.call({ method: 'GET', url: TOKENS, as: ADMIN, apiKey })
    t.equal(res.statusCode, 200)
    const { tokens } = res.json()
    t.same(tokens.map((x: { uid: string }) => x.uid), [one.uid, two.uid])
    for (const x of tokens) t.notOk('token' in x, 'no secret')
    t.notMatch(res.body, /secret(?!_expires_at|_last_used_at)|hash|"cs[0-9a-f]{32}/, 'no secret or hash (previous_secret_expires_at and previous_secret_last_used_at are instants)')
    t.same(tokens[0], shown(one.body))
  })

  for (const [how, query] of [
    ['?query={"name":...} as the SDK sends it', `query=${encodeURIComponent(JSON.stringify({ name: 'two' }))}`],
    ['query[name]=', 'query%5Bname%5D=two'],
    ['name=', 'name=two'],
  ] as const)
    t.test(`filters by name with ${how}`, async (t) => {
      const res = await a.call({ method: 'GET', url: `${TOKENS}?${query}`, as: OWNER, apiKey })
      t.same(res.json().tokens.map((x: { uid: string }) => x.uid), [two.uid])
    })

  t.test('a query without a name lists everything; a name nobody has lists nothing', async (t) => {
    const all = await a.call({ method: 'GET', url: `${TOKENS}?query=${encodeURIComponent('{}')}`, as: OWNER, apiKey })
    t.equal(all.json().tokens.length, 2)
    const none = await a.call({ method: 'GET', url: `${TOKENS}?query=${encodeURIComponent('{"name":"gone"}')}`, as: OWNER, apiKey })
    t.same(none.json().tokens, [], 'revoked tokens are not listed')
  })

  t.test('422 for a query that is not JSON, or a name that is not a string', async (t) => {
    const bad = await a.call({ method: 'GET', url: `${TOKENS}?query=%7Bnope`, as: OWNER, apiKey })
    t.equal(bad.statusCode, 422)
    t.ok(bad.json().errors.query)
    const num = await a.call({ method: 'GET', url: `${TOKENS}?query=${encodeURIComponent('{"name":3}')}`, as: OWNER, apiKey })
    t.equal(num.statusCode, 422)
    t.ok(num.json().errors['query.name'])
  })

  t.test('fetches one token, never its secret', async (t) => {
    const res = await a.call({ method: 'GET', url: `${TOKENS}/${one.uid}`, as: OWNER, apiKey })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { token: shown(one.body) })
    t.notOk('token' in res.json().token)
  })

  t.test('404 for an unknown token, a revoked one, and one of another stack', async (t) => {
    for (const uid of ['blt0000000000000000', gone.uid]) {
      const res = await a.call({ method: 'GET', url: `${TOKENS}/${uid}`, as: OWNER, apiKey })
      t.equal(res.statusCode, 404)
      t.equal(res.json().error_code, 141)
      t.ok(res.json().errors.uid)
    }
    const elsewhere = (await a.call({ method: 'GET', url: TOKENS, as: STRANGER, apiKey: other })).json().tokens[0]
    t.equal((await a.call({ method: 'GET', url: `${TOKENS}/${elsewhere.uid}`, as: OWNER, apiKey })).statusCode, 404)
  })
})

t.test('who may manage tokens: owner and admin; 403 for developer, content manager and non-members', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const calls = [
    { method: 'POST', url: TOKENS, body: { token: { name: 'x', scope: READ_ENTRIES } } },
    { method: 'GET', url: TOKENS },
    { method: 'GET', url: `${TOKENS}/${tok.uid}` },
    { method: 'PUT', url: `${TOKENS}/${tok.uid}`, body: { token: { name: 'renamed' } } },
    { method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, body: {} },
    { method: 'DELETE', url: `${TOKENS}/${tok.uid}` },
  ] as const
  for (const who of [DEVELOPER, CONTENT_MANAGER, STRANGER])
    for (const c of calls) {
      const res = await a.call({ ...c, as: who, apiKey })
      t.equal(res.statusCode, 403, `${who} ${c.method} ${c.url}`)
      t.equal(res.json().error_code, 162)
      t.ok(res.json().errors.authtoken, 'says what was wrong')
    }
  t.same(await a.eventTypes(apiKey), ['StackCreated', 'MemberShared', 'MemberShared', 'MemberShared', 'TokenGenerated'], 'nothing appended')
  for (const c of calls.slice(0, 4)) t.equal((await a.call({ ...c, as: ADMIN, apiKey })).statusCode < 300, true, `admin ${c.method} ${c.url}`)
})

t.test('PUT /v3/stacks/management_tokens/:uid', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER, { name: 'ci', description: 'd', expires_on: '2027-01-01', rate_limit: { read: 5, write: 5 } })
  const put = (token: unknown, as = OWNER, uid = tok.uid) => a.call({ method: 'PUT', url: `${TOKENS}/${uid}`, as, apiKey, body: { token } })
  const appendedBy = async (f: () => Promise<unknown>) => {
    const before = (await a.eventTypes(apiKey)).length
    await f()
    return (await a.eventTypes(apiKey)).slice(before)
  }

  t.test('one event per changed field, in one response', async (t) => {
    a.clock?.advance(1000)
    let res: Awaited<ReturnType<typeof put>> | undefined
    const events = await appendedBy(async () => {
      res = await put(
        {
          name: 'ci-2',
          scope: [{ module: 'asset', acl: { read: true, write: true } }],
          expires_on: null,
          rate_limit: { read: 1, write: 1 },
          is_email_notification_enabled: true,
        },
        ADMIN,
      )
    })
    t.equal(res?.statusCode, 200, res?.body ?? '')
    t.same(events, ['TokenRenamed', 'TokenScopeChanged', 'TokenExpiryChanged', 'TokenLimitsChanged', 'TokenNotificationChanged'])
    const body = res?.json()
    t.equal(body.notice, 'Management Token updated successfully.')
    t.match(body.token, {
      uid: tok.uid,
      name: 'ci-2',
      description: 'd',
      scope: [{ module: 'asset', acl: { read: true, write: true } }],
      expires_on: null,
      rate_limit: { read: 1, write: 1 },
      is_email_notification_enabled: true,
      created_by: 'u-owner',
      updated_by: 'u-admin',
      created_at: START.toISOString(),
      updated_at: new Date(START.getTime() + 1000).toISOString(),
    })
    t.notOk('token' in body.token)
    const row = a.service.readDb.prepare('SELECT scope, expires_at, rate_read FROM token_secrets WHERE token_uid = ?').get(tok.uid)
    t.same(row, { scope: '[{"module":"asset","acl":{"read":true,"write":true}}]', expires_at: null, rate_read: 1 }, 'the authorizer sees it at once')
  })

  t.test('only the description: one TokenRenamed', async (t) => {
    t.same(await appendedBy(() => put({ description: 'new' })), ['TokenRenamed'])
  })

  t.test('nothing changed (same values, another key order, padded name): no event', async (t) => {
    const current = (await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token
    let res: Awaited<ReturnType<typeof put>> | undefined
    const events = await appendedBy(async () => {
      res = await put({
        name: ` ${current.name} `,
        description: current.description,
        scope: current.scope.map((s: { module: string; acl: object }) => ({ acl: s.acl, module: s.module })),
        expires_on: current.expires_on,
        rate_limit: { write: current.rate_limit.write, read: current.rate_limit.read },
        is_email_notification_enabled: current.is_email_notification_enabled,
      })
    })
    t.equal(res?.statusCode, 200)
    t.same(events, [])
    t.same(res?.json().token, current)
  })

  t.test('the SDK echo: every fetched field back, read-only ones ignored', async (t) => {
    const current = (await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token
    let res: Awaited<ReturnType<typeof put>> | undefined
    const events = await appendedBy(async () => {
      res = await put({ ...current, uid: 'bltffffffffffffffff', created_at: '2000-01-01T00:00:00.000Z', created_by: 'x', updated_at: 'x', updated_by: 'x', name: 'echoed' })
    })
    t.equal(res?.statusCode, 200, res?.body ?? '')
    t.same(events, ['TokenRenamed'])
    t.match(res?.json().token, { uid: tok.uid, created_at: current.created_at, created_by: current.created_by, name: 'echoed' })
  })

  t.test('an expiry already past is accepted when echoed unchanged, rejected when new', async (t) => {
    await put({ expires_on: '2026-03-02' })
    a.clock?.advance(2 * 24 * 3600 * 1000)
    const echoed = await put({ expires_on: '2026-03-02T00:00:00.000Z' })
    t.equal(echoed.statusCode, 200, 'unchanged past expiry is not an error')
    const past = await put({ expires_on: '2026-03-02T00:00:00.001Z' })
    t.equal(past.statusCode, 422)
    t.ok(past.json().errors['token.expires_on'])
  })

  t.test('a change that fails validation appends nothing, even with other valid changes', async (t) => {
    const events = await appendedBy(async () => {
      const res = await put({ name: 'fine', rate_limit: { read: 100, write: 1 } })
      t.equal(res.statusCode, 422)
      t.ok(res.json().errors['token.rate_limit.read'])
    })
    t.same(events, [])
    for (const [token, field] of [
      [{ scope: [{ module: 'nope', acl: { read: true } }] }, 'token.scope[0].module'],
      [{ expires_on: 'soon' }, 'token.expires_on'],
      [{ name: '' }, 'token.name'],
      [{ is_email_notification_enabled: 'yes' }, 'token.is_email_notification_enabled'],
    ] as const) {
      const res = await put(token)
      t.equal(res.statusCode, 422, JSON.stringify(token))
      t.ok(res.json().errors[field], `${field}: ${res.body}`)
    }
    const noToken = await a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: {} })
    t.equal(noToken.statusCode, 422)
    t.ok(noToken.json().errors.token)
  })

  t.test('a name clash with another live token is 422', async (t) => {
    await a.generate(apiKey, OWNER, { name: 'taken' })
    const res = await put({ name: 'taken' })
    t.equal(res.statusCode, 422)
    t.ok(res.json().errors['token.name'])
  })

  t.test('404 for an unknown or revoked token; revocation is final', async (t) => {
    t.equal((await put({ name: 'x' }, OWNER, 'blt0000000000000000')).statusCode, 404)
    const doomed = await a.generate(apiKey, OWNER)
    await a.call({ method: 'DELETE', url: `${TOKENS}/${doomed.uid}`, as: OWNER, apiKey })
    const res = await put({ name: 'zombie' }, OWNER, doomed.uid)
    t.equal(res.statusCode, 404)
    t.equal(res.json().error_code, 141)
  })
})

t.test('DELETE /v3/stacks/management_tokens/:uid', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: 600 } })
  t.equal(rotated.statusCode, 200)
  t.equal(
    (a.service.readDb.prepare('SELECT COUNT(*) AS n FROM token_secrets WHERE token_uid = ?').get(tok.uid) as { n: number }).n,
    2,
    'two secrets open the token during the grace period',
  )

  const res = await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: ADMIN, apiKey })
  t.equal(res.statusCode, 200)
  const { propagation, ...body } = res.json()
  t.same(body, { notice: 'Management Token deleted successfully.' })
  t.match(propagation, { instances: 1, confirmed: 1, ms: Number }, 'a lone instance confirms its own revocation')
  t.same(
    a.service.readDb.prepare('SELECT * FROM token_secrets WHERE token_uid = ?').all(tok.uid),
    [],
    'when the 200 is sent, no secret of the token is left in the read model',
  )
  const row = a.service.readDb.prepare('SELECT revoked_at, revoked_by FROM tokens WHERE uid = ?').get(tok.uid)
  t.same(row, { revoked_at: START.toISOString(), revoked_by: 'u-admin' })
  for (const secret of [tok.secret, rotated.json().token.token]) {
    const use = await a.call({ method: 'GET', url: '/v3/authorize', apiKey, headers: { authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' } })
    t.equal(use.statusCode, 401, 'the very next request is rejected')
  }
  const again = await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })
  t.equal(again.statusCode, 404, 'revoking twice: 404')
  t.equal(again.json().error_code, 141)
  t.equal((await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: {} })).statusCode, 422, 'a revoked token cannot be rotated (test/http/rotation.test.ts)')
  t.same((await a.eventTypes(apiKey)).filter((e) => e === 'TokenRevoked'), ['TokenRevoked'])
})

t.test('POST /v3/stacks/management_tokens/:uid/rotate', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER, { name: 'rot', rate_limit: { read: 3, write: 2 } })
  const rotate = (body: unknown, uid = tok.uid) =>
    a.call({ method: 'POST', url: `${TOKENS}/${uid}/rotate`, as: ADMIN, apiKey, ...(body === undefined ? {} : { body }) })
  const secrets = () =>
    a.service.readDb.prepare('SELECT secret_hash, valid_until FROM token_secrets WHERE token_uid = ? ORDER BY valid_until IS NULL, valid_until').all(tok.uid) as Array<{
      secret_hash: string
      valid_until: number | null
    }>

  t.test('a new secret, returned once; same uid, scope, limits; the old one stops at once by default', async (t) => {
    const res = await rotate(undefined)
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.equal(body.notice, 'Management Token rotated successfully.')
    t.match(body.token.token, /^cs[0-9a-f]{32,}$/)
    t.not(body.token.token, tok.secret)
    t.match(body.token, { uid: tok.uid, name: 'rot', rate_limit: { read: 3, write: 2 } })
    t.same(secrets(), [{ secret_hash: sha256(body.token.token), valid_until: null }])
    const fetched = await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })
    t.notOk('token' in fetched.json().token, 'never shown again')
    t.equal(tok.body.token && (tok.body.token as { last_rotated_at: unknown }).last_rotated_at, null, 'never rotated before')
    t.equal(body.token.last_rotated_at, a.service.clock().toISOString(), 'the rotation is dated')
    t.equal(fetched.json().token.last_rotated_at, body.token.last_rotated_at)
  })

  t.test('with a grace period the previous secret keeps working until then', async (t) => {
    const before = secrets()[0]?.secret_hash
    const res = await rotate({ previous_expires_in_seconds: 604800 })
    t.equal(res.statusCode, 200, res.body)
    t.same(secrets(), [
      { secret_hash: before, valid_until: START.getTime() + 604800 * 1000 },
      { secret_hash: sha256(res.json().token.token), valid_until: null },
    ])
  })

  for (const bad of [-1, 604801, 1.5, '60'])
    t.test(`422 for previous_expires_in_seconds ${JSON.stringify(bad)}`, async (t) => {
      const res = await rotate({ previous_expires_in_seconds: bad })
      t.equal(res.statusCode, 422)
      t.equal(res.json().error_code, 119)
      t.ok(Object.keys(res.json().errors).some((k) => k.includes('previous_expires_in_seconds')), res.body)
    })

  t.test('an empty JSON object and null are the default', async (t) => {
    t.equal((await rotate({})).statusCode, 200)
    t.equal((await rotate(null)).statusCode, 200)
  })

  t.test('404 for an unknown token', async (t) => {
    const res = await rotate({}, 'blt0000000000000000')
    t.equal(res.statusCode, 404)
    t.equal(res.json().error_code, 141)
  })
})

t.test('rotation never extends an older secret: grace G means every earlier secret stops by now + G', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const ask = (secret: string) =>
    a.call({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/x/entries' },
    })
  const rotate = async (grace: number) => {
    const res = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: grace } })
    t.equal(res.statusCode, 200, res.body)
    return res.json().token.token as string
  }
  const first = tok.secret
  const second = await rotate(3600)
  t.equal((await ask(first)).statusCode, 200, 'the first secret is in its hour of grace')
  const third = await rotate(0)
  t.equal((await ask(first)).statusCode, 401, 'a rotation with grace 0 ends the first secret too, not only the second')
  t.equal((await ask(second)).statusCode, 401, 'and the second')
  t.equal((await ask(third)).statusCode, 200)

  const fourth = await rotate(3600)
  const fifth = await rotate(60)
  a.clock?.advance(59_000)
  t.equal((await ask(third)).statusCode, 200, 'within the shorter grace both older secrets still work')
  t.equal((await ask(fourth)).statusCode, 200)
  a.clock?.advance(1_000)
  t.equal((await ask(third)).statusCode, 401, 'the third secret stops with the 60 s grace, not its own hour')
  t.equal((await ask(fourth)).statusCode, 401)
  t.equal((await ask(fifth)).statusCode, 200)
})

t.test('bodies are exact: an unknown field is 422 naming it, and nothing is appended', async (t) => {
  const { a, apiKey } = await setup(t)
  const tok = await a.generate(apiKey, OWNER)
  const before = await a.eventTypes(apiKey)
  const cases: Array<[string, string, unknown, string]> = [
    ['POST', `${TOKENS}/${tok.uid}/rotate`, { previous_expire_in_seconds: 60 }, 'previous_expire_in_seconds'],
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES, expiry: '2030-01-01' } }, 'token.expiry'],
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES, uid: 'blt0000000000000000' } }, 'token.uid'],
    ['POST', TOKENS, { token: { name: 'x', scope: [{ module: 'entry', acl: { read: true, wirte: true } }] } }, 'token.scope[0].acl.wirte'],
    ['POST', TOKENS, { token: { name: 'x', scope: [{ module: 'entry', acl: { read: true }, branch: ['main'] }] } }, 'token.scope[0].branch'],
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES, rate_limit: { read: 1, write: 1, burst: 5 } } }, 'token.rate_limit.burst'],
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES }, extra: true }, 'extra'],
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES, valueOf: 1 } }, 'token.valueOf'],
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES, constructor: 1 } }, 'token.constructor'],
    ['PUT', `${TOKENS}/${tok.uid}`, { token: { name: 'y', colour: 'red' } }, 'token.colour'],
    ['POST', '/v3/stacks', { stack: { name: 'x', owner: 'me' } }, 'stack.owner'],
    ['POST', '/v3/stacks/share', { emails: ['x@example.com'], role: { 'x@example.com': ['admin'] } }, 'role'],
    ['POST', '/v3/stacks/unshare', { email: 'x@example.com', force: true }, 'force'],
    ['POST', '/v3/stacks/transfer_ownership', { transfer_to: ADMIN, keep: true }, 'keep'],
  ]
  for (const [method, url, body, field] of cases) {
    const res = await a.call({ method: method as 'POST', url, as: OWNER, apiKey, body })
    t.equal(res.statusCode, 422, `${method} ${url}: ${res.body}`)
    t.same(res.json().errors, { [field]: ['is not a known field'] }, field)
    t.equal(res.json().error_message, `${field}: is not a known field`)
  }
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')

  const echoed = await a.call({
    method: 'PUT',
    url: `${TOKENS}/${tok.uid}`,
    as: OWNER,
    apiKey,
    body: { token: { ...(await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token, description: 'echoed', api_key: apiKey } },
  })
  t.equal(echoed.statusCode, 200, `the read-only fields a fetched token carries are still ignored on update: ${echoed.body}`)
  t.equal(echoed.json().token.description, 'echoed')
})

t.test('a rate_limit with one side missing says which side', async (t) => {
  const { a, apiKey } = await setup(t)
  for (const [rl, field] of [
    [{ read: 5 }, 'token.rate_limit.write'],
    [{ write: 5 }, 'token.rate_limit.read'],
  ] as const) {
    const res = await create(a, apiKey, { name: 'rl', scope: READ_ENTRIES, rate_limit: rl })
    t.equal(res.statusCode, 422)
    t.same(res.json().errors, { [field]: ['is required'] }, res.body)
  }
  const neither = await create(a, apiKey, { name: 'rl', scope: READ_ENTRIES, rate_limit: 'fast' })
  t.same(neither.json().errors, { 'token.rate_limit': ['must be an object or null'] })
})
