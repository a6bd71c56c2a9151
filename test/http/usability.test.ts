import t from 'tap'
import { SECRET_SHOWN_ONCE } from '../../src/http/idempotency.js'
import { ADMIN, DEVELOPER, OWNER, READ_ENTRIES, startApp, uidOf } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'

t.test('DELETE and rotate with content-type: application/json and an empty body are accepted', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER)
  const headers = { 'content-type': 'application/json' }
  const rotated = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, headers, body: '' })
  t.equal(rotated.statusCode, 200, rotated.body)
  const deleted = await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, headers, body: '' })
  t.equal(deleted.statusCode, 200, deleted.body)
  const create = await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, headers, body: '' })
  t.equal(create.statusCode, 400, 'a create still needs its body')
})

t.test('a revoked token is 404 on every route alike, but rotating it says why it cannot be', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).statusCode, 200)
  const answers = []
  for (const [method, url, body] of [
    ['GET', `${TOKENS}/${tok.uid}`, undefined],
    ['PUT', `${TOKENS}/${tok.uid}`, { token: { name: 'again' } }],
    ['DELETE', `${TOKENS}/${tok.uid}`, undefined],
  ] as const) {
    const res = await a.call({ method, url, as: OWNER, apiKey, ...(body ? { body } : {}) })
    t.equal(res.statusCode, 404, `${method} ${url}`)
    answers.push(res.json())
  }
  t.same(answers, Array(3).fill({ error_message: 'Management token not found.', error_code: 141, errors: { uid: ['not found'] } }), 'the same answer')
  const unknown = await a.call({ method: 'PUT', url: `${TOKENS}/blt0000000000000000`, as: OWNER, apiKey, body: { token: { name: 'x' } } })
  t.same(unknown.json(), answers[0], 'as for a token that never existed')
  // Rotation is the one action an owner may try on a token they believe lost; it names the reason.
  const rotate = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: {} })
  t.equal(rotate.statusCode, 422)
  t.match(rotate.json(), { error_code: 119, errors: { uid: [/revoked/] } }, 'rotate: 422 naming uid, revoked')
})

t.test('audit log: actor by uid or email, any case; unknown parameters 400; a developer is told about the audit log; updates name their fields', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  const tok = await a.generate(apiKey, ADMIN, { name: 'audited', description: 'd1' })
  const put = (token: Record<string, unknown>) => a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: ADMIN, apiKey, body: { token } })
  t.equal((await put({ description: 'd2' })).statusCode, 200)
  t.equal((await put({ name: 'renamed', description: 'd2', rate_limit: { read: 2, write: 1 } })).statusCode, 200)
  const audit = (query: string, as = OWNER) => a.call({ method: 'GET', url: `/v3/audit-logs?${query}`, as, apiKey })
  const byUid = (await audit(`actor=${uidOf(ADMIN)}`)).json()
  const byEmail = (await audit(`actor=${encodeURIComponent(ADMIN.toUpperCase())}`)).json()
  t.equal(byUid.count, 4, 'the admin created once and updated three fields in two PUTs')
  t.same(byEmail, byUid, 'by email, in capitals, the same entries')
  t.same((await audit(`actor=${uidOf(ADMIN).toUpperCase()}`)).json(), byUid, 'a uid in another case')
  const updates = (await audit('event_type=update')).json().logs as Array<{ metadata: { changed?: string[] } }>
  t.same(
    updates.map((l) => l.metadata.changed),
    [['rate_limit'], ['name'], ['description']],
    'each update entry says which fields changed (newest first)',
  )
  const created = (await audit('event_type=create&module=management_token')).json().logs[0]
  t.notOk('changed' in created.metadata, 'a create has no changed list')

  const unknown = await audit('limit=5&actr=x')
  t.equal(unknown.statusCode, 400)
  t.equal(unknown.json().error_code, 100)
  t.same(unknown.json().errors, { actr: ['is not a known query parameter'] })
  t.match(unknown.json().error_message, /actr/)

  const dev = await audit('limit=5', DEVELOPER)
  t.equal(dev.statusCode, 403)
  t.equal(dev.json().error_message, 'Only the stack owner or an admin may read the audit log.')
})

t.test('an idempotent replay of a create or rotate says the secret was shown once and how to get a new one', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const headers = { 'idempotency-key': 'replay-notice' }
  const body = { token: { name: 'once', scope: READ_ENTRIES } }
  await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body, headers })
  const again = await a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body, headers })
  t.equal(again.json().secret_notice, SECRET_SHOWN_ONCE)
  t.match(SECRET_SHOWN_ONCE, /shown once[^]*rotate/)
  const uid = again.json().token.uid
  const rotate = () => a.call({ method: 'POST', url: `${TOKENS}/${uid}/rotate`, as: OWNER, apiKey, headers: { 'idempotency-key': 'replay-rotate' } })
  t.notOk((await rotate()).json().secret_notice, 'the first rotate shows its secret, no notice')
  t.equal((await rotate()).json().secret_notice, SECRET_SHOWN_ONCE)
})
