import fc from 'fast-check'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { FaultyStore, JWT_SECRET, OWNER, READ_ENTRIES, startApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'
const isErrorBody = (body: Record<string, unknown>) =>
  typeof body.error_message === 'string' && typeof body.error_code === 'number' && typeof body.errors === 'object'

t.test('400: malformed JSON, wrong content type, empty JSON body', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const send = (payload: string, contentType: string) =>
    a.app.inject({
      method: 'POST',
      url: TOKENS,
      headers: { authtoken: a.authtoken(OWNER), api_key: apiKey, 'content-type': contentType },
      payload,
    })
  for (const [payload, type, field] of [
    ['{"token": {"name": ', 'application/json', 'body'],
    ['', 'application/json', 'body'],
    ['name=x', 'application/x-www-form-urlencoded', 'content-type'],
    ['{"token":{}}', 'text/plain', 'content-type'],
  ] as const) {
    const res = await send(payload, type)
    t.equal(res.statusCode, 400, `${type} ${JSON.stringify(payload)}: ${res.body}`)
    t.equal(res.json().error_code, 100)
    t.ok(res.json().errors[field], res.body)
  }
  const proto = await send('{"token":{"name":"x","scope":[],"__proto__":{"admin":true}}}', 'application/json')
  t.equal(proto.statusCode, 400, 'prototype poisoning is refused')
  t.ok(isErrorBody(proto.json()))
  const length = await a.app.inject({
    method: 'POST',
    url: '/v3/stacks',
    headers: { authtoken: a.authtoken(OWNER), 'content-type': 'application/json', 'content-length': '5' },
    payload: '{"stack":{"name":"x"}}',
  })
  t.equal(length.statusCode, 400, 'a Content-Length that does not match the body')
  t.ok(isErrorBody(length.json()))
  const badUrl = await a.call({ method: 'GET', url: `${TOKENS}/%E0%A4%A`, as: OWNER, apiKey })
  t.equal(badUrl.statusCode, 400, 'a URL that does not decode')
  t.equal(badUrl.json().error_code, 100, badUrl.body)
  t.ok(isErrorBody(badUrl.json()))
})

t.test('413 for a body over the limit', async (t) => {
  const a = await startApp(t)
  const res = await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: { stack: { name: 'x', description: 'd'.repeat(300 * 1024) } } })
  t.equal(res.statusCode, 413)
  t.ok(res.json().errors.body)
})

t.test('404 for a route that does not exist, as an error body', async (t) => {
  const a = await startApp(t)
  const res = await a.call({ method: 'GET', url: '/v3/nothing-here?x=1', as: OWNER })
  t.equal(res.statusCode, 404)
  t.same(res.json(), { error_message: 'No route for GET /v3/nothing-here.', error_code: 141, errors: {} })
})

t.test('401: missing, malformed, foreign, expired authtoken, or one without email', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const nowSeconds = Math.floor(Date.now() / 1000)
  const cases: Array<[string, Record<string, string>, string]> = [
    ['missing', {}, 'is required'],
    ['empty', { authtoken: '' }, 'is required'],
    ['not a JWT', { authtoken: 'garbage' }, 'is invalid'],
    ['signed with another secret', { authtoken: createSigner({ key: 'other-secret' })({ sub: 'u', email: OWNER }) }, 'is invalid'],
    ['expired', { authtoken: createSigner({ key: JWT_SECRET })({ sub: 'u', email: OWNER, iat: nowSeconds - 7200, exp: nowSeconds - 3600 }) }, 'is invalid'],
    ['unsigned (alg none)', { authtoken: createSigner({ algorithm: 'none' })({ sub: 'u', email: OWNER }) }, 'is invalid'],
    ['without email', { authtoken: createSigner({ key: JWT_SECRET })({ sub: 'u' }) }, 'lacks sub or email'],
    ['a management token in its place', { authorization: 'cs00000000000000000000000000000000' }, 'is required'],
  ]
  for (const [what, headers, message] of cases)
    for (const [method, url] of [
      ['GET', TOKENS],
      ['POST', TOKENS],
      ['GET', '/v3/stacks'],
      ['POST', '/v3/stacks'],
    ] as const) {
      const res = await a.call({ method, url, apiKey, headers, ...(method === 'POST' ? { body: { token: { name: 'x', scope: READ_ENTRIES } } } : {}) })
      t.equal(res.statusCode, 401, `${what}: ${method} ${url}`)
      t.equal(res.json().error_code, 105)
      t.same(res.json().errors, { authtoken: [message] }, what)
    }
  t.same(await a.eventTypes(apiKey), ['StackCreated'])
})

t.test('412: a missing or unknown api_key is answered alike by the management routes, the audit log and the authorizer', async (t) => {
  const a = await startApp(t)
  await a.createStack()
  const described = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types' }
  for (const apiKey of [undefined, 'blt0000000000000000']) {
    const routes = [
      await a.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey }),
      await a.call({ method: 'GET', url: '/v3/audit-logs', as: OWNER, apiKey }),
      await a.call({ method: 'GET', url: '/v3/authorize', apiKey, headers: { ...described, authorization: `cs${'0'.repeat(32)}` } }),
    ]
    const [first, ...others] = routes.map((res) => ({ status: res.statusCode, body: res.json() as unknown }))
    t.match(first, { status: 412, body: { error_code: 109, errors: { api_key: [String] } } }, `api_key ${apiKey ?? 'missing'}`)
    for (const other of others) t.same(other, first, 'the same answer on every surface')
  }
})

t.test('409 when every attempt conflicts: the retry budget is spent, nothing appended', async (t) => {
  let store: FaultyStore | undefined
  const a = await startApp(t, { wrapStore: (s) => (store = new FaultyStore(s)) })
  const apiKey = await a.createStack()
  if (!store) throw new Error('no store')
  store.fault = 'conflict'
  store.appendCalls = 0
  const res = await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: { token: { name: 'x', scope: READ_ENTRIES } } })
  t.equal(res.statusCode, 409)
  t.same(res.json(), { error_message: 'The stack changed concurrently 5 times; try again.', error_code: 150, errors: {} })
  t.equal(store.appendCalls, 5, 'five attempts, each from a fresh read')
  store.fault = 'none'
  t.same(await a.eventTypes(apiKey), ['StackCreated'])
  t.same((await a.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey })).json().tokens, [])
})

t.test('503 when the event store is unavailable for a command', async (t) => {
  let store: FaultyStore | undefined
  const a = await startApp(t, { wrapStore: (s) => (store = new FaultyStore(s)) })
  const apiKey = await a.createStack()
  if (!store) throw new Error('no store')
  store.fault = 'unavailable'
  for (const [method, url, body] of [
    ['POST', TOKENS, { token: { name: 'x', scope: READ_ENTRIES } }],
    ['POST', '/v3/stacks', { stack: { name: 'y' } }],
    ['POST', '/v3/stacks/share', { emails: ['x@example.com'], roles: { 'x@example.com': ['admin'] } }],
  ] as const) {
    const res = await a.call({ method, url, as: OWNER, apiKey, body })
    t.equal(res.statusCode, 503, url)
    t.same(res.json(), { error_message: 'The event store is unavailable; try again shortly.', error_code: 503, errors: {} })
  }
  t.ok(a.logs().some((l) => l.level === 40 && (l.err as { type?: string })?.type === 'EventStoreUnavailable'), 'logged as a warning')
  store.fault = 'none'
  t.equal((await a.call({ method: 'GET', url: TOKENS, as: OWNER, apiKey })).statusCode, 200, 'queries still answer from the read models')
})

t.test('500 for an unexpected failure: a request id, no stack trace, no internals', async (t) => {
  let store: FaultyStore | undefined
  const a = await startApp(t, { wrapStore: (s) => (store = new FaultyStore(s)) })
  const apiKey = await a.createStack()
  if (!store) throw new Error('no store')
  store.fault = 'boom'
  const res = await a.call({
    method: 'POST',
    url: TOKENS,
    as: OWNER,
    apiKey,
    body: { token: { name: 'x', scope: READ_ENTRIES } },
    headers: { 'x-request-id': 'req-500-test' },
  })
  t.equal(res.statusCode, 500)
  t.equal(res.headers['x-request-id'], 'req-500-test')
  t.same(res.json(), {
    error_message: 'Internal error; quote request id req-500-test.',
    error_code: 500,
    errors: {},
    request_id: 'req-500-test',
  })
  t.notMatch(res.body, /disk on fire|\bat \S+ \(|\.ts:\d+/, 'no message or stack of the cause')
  const logged = a.logs().find((l) => l.reqId === 'req-500-test' && l.level === 50)
  t.match(logged, { msg: 'internal error', err: { message: /disk on fire/ } }, 'the cause is in the log, with the request id')

  const weird = await a.call({ method: 'GET', url: '/v3/stacks', as: OWNER, apiKey, headers: { 'x-request-id': 'not a valid id!' } })
  t.match(weird.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'an unusable request id is replaced')
})

t.test('invalid input never causes a 500 (property)', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER)
  const json = fc.jsonValue({ maxDepth: 4 })
  const tokenish = fc.record(
    {
      name: fc.oneof(fc.string(), json),
      description: fc.oneof(fc.string(), json),
      scope: fc.oneof(
        fc.array(
          fc.record(
            {
              module: fc.oneof(fc.constantFrom('entry', 'branch', 'branch_alias', 'audit_log', '$all'), fc.string(), json),
              acl: fc.oneof(fc.record({ read: fc.oneof(fc.boolean(), json), write: fc.oneof(fc.boolean(), json) }, { requiredKeys: [] }), json),
              branches: fc.oneof(fc.array(fc.string()), json),
              branch_aliases: fc.oneof(fc.array(fc.string()), json),
            },
            { requiredKeys: [] },
          ),
        ),
        json,
      ),
      expires_on: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.constant(null), json),
      rate_limit: fc.oneof(fc.record({ read: fc.oneof(fc.integer(), fc.double(), json), write: fc.oneof(fc.integer(), json) }), json),
      is_email_notification_enabled: fc.oneof(fc.boolean(), json),
    },
    { requiredKeys: [] },
  )
  const body = fc.oneof(json, fc.record({ token: fc.oneof(tokenish, json) }))
  const requests = fc.oneof(
    body.map((b) => ({ method: 'POST' as const, url: TOKENS, body: b })),
    body.map((b) => ({ method: 'PUT' as const, url: `${TOKENS}/${tok.uid}`, body: b })),
    json.map((b) => ({ method: 'POST' as const, url: `${TOKENS}/${tok.uid}/rotate`, body: b })),
    json.map((b) => ({ method: 'POST' as const, url: '/v3/stacks/share', body: b })),
    json.map((b) => ({ method: 'POST' as const, url: '/v3/stacks/unshare', body: b })),
    json.map((b) => ({ method: 'POST' as const, url: '/v3/stacks/transfer_ownership', body: b })),
    json.map((b) => ({ method: 'POST' as const, url: '/v3/stacks', body: b })),
    fc.dictionary(fc.string(), fc.string()).map((q) => ({ method: 'GET' as const, url: `/v3/audit-logs?${new URLSearchParams(q)}` })),
    fc.dictionary(fc.string(), fc.string()).map((q) => ({ method: 'GET' as const, url: `${TOKENS}?${new URLSearchParams(q)}` })),
    fc.string().map((s) => ({ method: 'GET' as const, url: `${TOKENS}?query=${encodeURIComponent(s)}` })),
  )
  await fc.assert(
    fc.asyncProperty(requests, async (r) => {
      const res = await a.call({ ...r, as: OWNER, apiKey, ...('body' in r ? { body: JSON.stringify(r.body), headers: { 'content-type': 'application/json' } } : {}) })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${JSON.stringify(r)}: ${res.body}`)
      if (res.statusCode >= 400 && !isErrorBody(res.json())) throw new Error(`not an error body {error_message, error_code, errors}: ${res.body}`)
    }),
    { numRuns: 300, seed: 20260301 },
  )
  t.pass('300 generated requests, no 500')
})

t.test('framework errors: a path parameter over 100 characters is a 414, with no headers needed', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  for (const url of [`${TOKENS}/${'a'.repeat(101)}`, `${TOKENS}/${'b'.repeat(5000)}/rotate`, `/v3/audit-logs/${'c'.repeat(101)}`]) {
    for (const headers of [{}, { authtoken: a.authtoken(OWNER), api_key: apiKey }]) {
      const res = await a.app.inject({ method: 'GET', url, headers })
      t.equal(res.statusCode, 414, `${url.slice(0, 60)}: ${res.body}`)
      t.same(res.json(), {
        error_message: 'A path parameter is longer than 100 characters.',
        error_code: 100,
        errors: { url: ['a path parameter is longer than 100 characters'] },
      })
      t.ok(res.headers['x-request-id'], 'carries a request id')
    }
  }
  const fine = await a.call({ method: 'GET', url: `${TOKENS}/${'a'.repeat(100)}`, as: OWNER, apiKey })
  t.equal(fine.statusCode, 404, '100 characters is a parameter like any other')
})

/** Sends raw bytes to a listening app and returns everything the server wrote before it closed. */
const raw = async (port: number, bytes: string): Promise<string> => {
  const { connect } = await import('node:net')
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

t.test('framework errors on a real socket: headers too large (431) and garbage (400) as error bodies', async (t) => {
  const a = await startApp(t)
  await a.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (a.app.server.address() as { port: number }).port
  const huge = await raw(port, `GET /v3/stacks HTTP/1.1\r\nHost: x\r\nx-big: ${'h'.repeat(20_000)}\r\n\r\n`)
  t.match(huge, /^HTTP\/1\.1 431 /)
  const [, hugeBody] = huge.split('\r\n\r\n')
  t.same(JSON.parse(hugeBody as string), {
    error_message: 'The request headers are larger than the server accepts.',
    error_code: 100,
    errors: { headers: ['are larger than the server accepts'] },
  })
  const garbage = await raw(port, 'NOT HTTP AT ALL\r\n\r\n')
  t.match(garbage, /^HTTP\/1\.1 400 /)
  const body = JSON.parse(garbage.split('\r\n\r\n')[1] as string)
  t.ok(isErrorBody(body), garbage)
  t.same(body.errors, { request: ['is not valid HTTP'] })
})

t.test('invalid URLs and headers never cause a 500 (property)', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER)
  // Printable ASCII, which HTTP header values may carry; paths get the same plus percent signs.
  const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 })
  const segment = fc.oneof(
    printable.map((s) => encodeURIComponent(s)),
    fc.string({ unit: fc.constantFrom('%', 'E0', 'A4', 'zz', '/', '.', '..', ';', 'a', 'Z'), maxLength: 40 }),
    fc.integer({ min: 90, max: 3000 }).map((n) => 'x'.repeat(n)),
    fc.constant(tok.uid),
  )
  const path = fc.oneof(
    segment.map((s) => `${TOKENS}/${s}`),
    segment.map((s) => `${TOKENS}/${s}/rotate`),
    segment.map((s) => `/v3/audit-logs/${s}`),
    fc.array(segment, { maxLength: 4 }).map((ss) => `/v3/${ss.join('/')}`),
  )
  const header = fc.constantFrom('authtoken', 'api_key', 'content-type', 'idempotency-key', 'x-request-id', 'authorization', 'branch', 'accept')
  const headerValue = fc.oneof(printable, fc.constant(a.authtoken(OWNER)), fc.constant(apiKey), fc.constant('application/json'))
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
    url: path,
    headers: fc.dictionary(header, headerValue, { maxKeys: 5 }),
    body: fc.option(fc.oneof(printable, fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))), { nil: undefined }),
  })
  await fc.assert(
    fc.asyncProperty(request, async (r) => {
      const res = await a.app.inject({
        method: r.method as 'GET',
        url: r.url,
        headers: r.headers,
        ...(r.body === undefined || r.method === 'GET' || r.method === 'HEAD' ? {} : { payload: r.body }),
      })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${JSON.stringify(r).slice(0, 500)}: ${res.body}`)
      if (res.statusCode >= 400 && r.method !== 'HEAD' && !isErrorBody(res.json())) throw new Error(`not an error body {error_message, error_code, errors}: ${res.body}`)
    }),
    { numRuns: 400, seed: 20261201 },
  )
  t.pass('400 generated requests over URLs and headers, no 500')
})
