import t from 'tap'
import { ADMIN, DEVELOPER, OWNER, READ_ENTRIES, START, STRANGER, startApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'
const at = (seconds: number) => new Date(START.getTime() + seconds * 1000).toISOString()

t.test('GET /v3/audit-logs and /v3/audit-logs/:uid', async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack(OWNER, 'Audited') // t=0
  a.clock?.advance(1000)
  await a.share(apiKey, OWNER, ADMIN, ['admin']) // t=1
  a.clock?.advance(1000)
  await a.share(apiKey, OWNER, DEVELOPER, ['developer']) // t=2
  a.clock?.advance(1000)
  const tok = await a.generate(apiKey, ADMIN, { name: 'ci' }) // t=3
  a.clock?.advance(1000)
  const put = await a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: { token: { name: 'ci-2', rate_limit: { read: 1, write: 1 } } }, headers: { 'x-request-id': 'req-put' } })
  t.equal(put.statusCode, 200) // t=4: TokenRenamed, TokenLimitsChanged
  a.clock?.advance(1000)
  const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: {} }) // t=5
  a.clock?.advance(1000)
  await a.call({ method: 'POST', url: '/v3/stacks/unshare', as: OWNER, apiKey, body: { email: DEVELOPER } }) // t=6
  a.clock?.advance(1000)
  await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: ADMIN, apiKey }) // t=7
  a.clock?.advance(1000)
  await a.call({ method: 'POST', url: '/v3/stacks/transfer_ownership', as: OWNER, apiKey, body: { transfer_to: ADMIN } }) // t=8
  const other = await a.createStack(STRANGER, 'Elsewhere')
  await a.generate(other, STRANGER)

  const logs = (query = '', as = OWNER) => a.call({ method: 'GET', url: `/v3/audit-logs${query}`, as, apiKey })

  t.test('every token and membership change of this stack, newest first', async (t) => {
    const res = await logs()
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.equal(body.count, 10)
    t.same(
      body.logs.map((l: { module: string; event_type: string; metadata: { uid: string; title: string } }) => [l.module, l.event_type, l.metadata.uid, l.metadata.title]),
      [
        ['stack', 'transfer_ownership', ADMIN, ADMIN],
        ['management_token', 'delete', tok.uid, 'ci-2'],
        ['stack', 'unshare', DEVELOPER, DEVELOPER],
        ['management_token', 'rotate', tok.uid, 'ci-2'],
        ['management_token', 'update', tok.uid, 'ci-2'],
        ['management_token', 'update', tok.uid, 'ci-2'],
        ['management_token', 'create', tok.uid, 'ci'],
        ['stack', 'share', DEVELOPER, DEVELOPER],
        ['stack', 'share', ADMIN, ADMIN],
        ['stack', 'create', apiKey, 'Audited'],
      ],
    )
    const update = body.logs[4]
    t.match(update, {
      uid: /^[0-9a-f-]{36}$/,
      stack: apiKey,
      created_at: at(4),
      created_by: 'u-owner',
      module: 'management_token',
      event_type: 'update',
      request_id: 'req-put',
      remote_addr: '127.0.0.1',
      metadata: { uid: tok.uid, title: 'ci-2' },
    })
    t.same(Object.keys(update).sort(), ['created_at', 'created_by', 'event_type', 'metadata', 'module', 'remote_addr', 'request_id', 'stack', 'uid'])
    t.notMatch(res.body, tok.secret, 'no secret')
    t.notMatch(res.body, rotated.json().token.token, 'no rotated secret')
    t.notMatch(res.body, /secret_hash|"cs[0-9a-f]{32}/)
  })

  t.test('limit (default 25, max 100) and skip', async (t) => {
    const page = (await logs('?limit=2&skip=1')).json()
    t.equal(page.count, 10)
    t.same(page.logs.map((l: { event_type: string }) => l.event_type), ['delete', 'unshare'])
    for (const bad of ['limit=0', 'limit=101', 'limit=x', 'skip=-1', 'limit=1.5']) {
      const res = await logs(`?${bad}`)
      t.equal(res.statusCode, 422, bad)
      t.equal(res.json().error_code, 119)
      t.ok(res.json().errors[bad.split('=')[0] as string], res.body)
    }
    t.equal((await logs('?limit=100')).statusCode, 200)
  })

  t.test('filters: module, event type, actor, time range', async (t) => {
    const types = async (q: string) => (await logs(q)).json().logs.map((l: { event_type: string }) => l.event_type)
    t.same(await types('?module=stack'), ['transfer_ownership', 'unshare', 'share', 'share', 'create'])
    t.same(await types('?event_type=update'), ['update', 'update'])
    t.same(await types('?module=management_token&actor=u-admin'), ['delete', 'create'])
    t.same(await types(`?from=${at(4)}&to=${at(6)}`), ['unshare', 'rotate', 'update', 'update'])
    t.same(await types(`?from=${encodeURIComponent('2026-03-01T13:00:05+01:00')}`), ['transfer_ownership', 'delete', 'unshare', 'rotate'], 'any ISO-8601 offset')
    for (const bad of ['module=entry', 'event_type=explode', 'from=yesterday', 'to=2026-13-45']) {
      const res = await logs(`?${bad}`)
      t.equal(res.statusCode, 422, bad)
      t.ok(res.json().errors[bad.split('=')[0] as string], res.body)
    }
  })

  t.test('one entry by uid; 404 for an unknown one or one of another stack', async (t) => {
    const first = (await logs('?limit=1')).json().logs[0]
    const one = await a.call({ method: 'GET', url: `/v3/audit-logs/${first.uid}`, as: ADMIN, apiKey })
    t.equal(one.statusCode, 200)
    t.same(one.json(), { log: first })
    const unknown = await a.call({ method: 'GET', url: '/v3/audit-logs/nope', as: OWNER, apiKey })
    t.equal(unknown.statusCode, 404)
    t.equal(unknown.json().error_code, 141)
    const foreign = (await a.call({ method: 'GET', url: '/v3/audit-logs', as: STRANGER, apiKey: other })).json().logs[0]
    t.equal((await a.call({ method: 'GET', url: `/v3/audit-logs/${foreign.uid}`, as: OWNER, apiKey })).statusCode, 404)
  })

  t.test('403 for members who are not owner or admin, and for non-members', async (t) => {
    await a.share(apiKey, ADMIN, DEVELOPER, ['developer'])
    for (const who of [DEVELOPER, STRANGER]) {
      const res = await logs('', who)
      t.equal(res.statusCode, 403, who)
      t.equal(res.json().error_code, 162)
    }
    t.equal((await a.call({ method: 'GET', url: '/v3/audit-logs/x', as: DEVELOPER, apiKey })).statusCode, 403)
  })

  t.test('a management token with audit_log read may read the log; others may not', async (t) => {
    const reader = await a.generate(apiKey, ADMIN, { name: 'auditor', scope: [{ module: 'audit_log', acl: { read: true } }] })
    const entries = await a.generate(apiKey, ADMIN, { name: 'entries', scope: READ_ENTRIES })
    const withToken = (secret: string, key = apiKey, url = '/v3/audit-logs') =>
      a.call({ method: 'GET', url, apiKey: key, headers: { authorization: secret } })
    const ok = await withToken(reader.secret)
    t.equal(ok.statusCode, 200, ok.body)
    t.ok(ok.json().logs.length > 0)
    const one = await withToken(reader.secret, apiKey, `/v3/audit-logs/${ok.json().logs[0].uid}`)
    t.equal(one.statusCode, 200)
    const forbidden = await withToken(entries.secret)
    t.equal(forbidden.statusCode, 403)
    t.equal(forbidden.json().error_code, 162)
    const foreign = await withToken(reader.secret, other)
    t.equal(foreign.statusCode, 401, 'a token of another stack')
    t.equal(foreign.json().error_code, 105)
    const unknown = await withToken('cs00000000000000000000000000000000')
    t.equal(unknown.statusCode, 401)
    const bearer = await withToken(`Bearer ${reader.secret}`)
    t.equal(bearer.statusCode, 200, 'Bearer form')
  })
})

t.test('GET /v3/audit-logs/as-of: every token of the stack as it stood at an instant', async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack(OWNER, 'History') // t=0
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  a.clock?.advance(1000)
  const writer = await a.generate(apiKey, ADMIN, { name: 'writer', scope: [{ module: 'entry', acl: { read: true, write: true } }], expires_on: at(10) }) // t=1
  a.clock?.advance(1000)
  const reader = await a.generate(apiKey, OWNER, { name: 'reader' }) // t=2
  a.clock?.advance(1000)
  await a.call({ method: 'PUT', url: `${TOKENS}/${writer.uid}`, as: OWNER, apiKey, body: { token: { name: 'writer-2', rate_limit: { read: 2, write: 1 } } } }) // t=3
  a.clock?.advance(1000)
  await a.call({ method: 'DELETE', url: `${TOKENS}/${reader.uid}`, as: OWNER, apiKey }) // t=4
  const other = await a.createStack(STRANGER, 'Elsewhere')
  await a.generate(other, STRANGER, { name: 'not-here' })

  const asOf = (query: string, as = OWNER) => a.call({ method: 'GET', url: `/v3/audit-logs/as-of${query}`, as, apiKey })
  const states = async (instant: string) => {
    const res = await asOf(`?at=${encodeURIComponent(instant)}`)
    t.equal(res.statusCode, 200, res.body)
    return res.json() as { as_of: string; tokens: Array<Record<string, unknown>> }
  }

  t.same(await states(at(0.5)), { as_of: at(0.5), tokens: [] }, 'before any token')
  t.same(await states(at(1)), {
    as_of: at(1),
    tokens: [
      {
        uid: writer.uid,
        name: 'writer',
        scope: [{ module: 'entry', acl: { read: true, write: true } }],
        rate_limit: null,
        expires_on: at(10),
        status: 'active',
        revoked_at: null,
        last_changed_at: at(1),
      },
    ],
  }, 'an instant equal to an event includes it')
  const later = await states(at(3.5))
  t.same(later.tokens.map((x) => [x.name, x.status, x.rate_limit, x.last_changed_at]), [
    ['writer-2', 'active', { read: 2, write: 1 }, at(3)],
    ['reader', 'active', null, at(2)],
  ])
  const afterRevoke = await states(at(5))
  t.same(afterRevoke.tokens.map((x) => [x.name, x.status, x.revoked_at]), [
    ['writer-2', 'active', null],
    ['reader', 'revoked', at(4)],
  ], 'a revoked token is listed as revoked, with when')
  t.same((await states(at(10))).tokens.map((x) => x.status), ['expired', 'revoked'], 'expired from its expiry on, with no event')
  t.equal((await states('2026-03-01')).as_of, '2026-03-01T00:00:00.000Z', 'a date is its midnight UTC')
  t.notMatch(JSON.stringify(afterRevoke), /cs[0-9a-f]{32}|secret|hash/, 'never a secret or its hash')

  for (const [query, what] of [
    ['', 'missing'],
    ['?at=', 'empty'],
    ['?at=yesterday', 'not a date'],
    ['?at=2026-13-45', 'impossible date'],
  ] as const) {
    const res = await asOf(query)
    t.equal(res.statusCode, 422, `${what}: ${res.body}`)
    t.equal(res.json().error_code, 119)
    t.ok(res.json().errors.at, `${what} names at`)
  }
  const auditor = await a.generate(apiKey, OWNER, { name: 'auditor', scope: [{ module: 'audit_log', acl: { read: true } }] })
  const byToken = await a.call({ method: 'GET', url: `/v3/audit-logs/as-of?at=${at(5)}`, apiKey, headers: { authorization: auditor.secret } })
  t.equal(byToken.statusCode, 200, `a management token with audit_log read may ask too: ${byToken.body}`)
  t.same(byToken.json().tokens.map((x: { name: string }) => x.name), ['writer-2', 'reader', 'auditor'])
  const dev = await asOf(`?at=${at(5)}`, DEVELOPER)
  t.equal(dev.statusCode, 403, 'a developer may not see token history')
  t.equal((await a.call({ method: 'GET', url: `/v3/audit-logs/as-of?at=${at(5)}`, as: OWNER })).statusCode, 412, 'api_key is required')
})
