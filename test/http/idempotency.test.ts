import t from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
import { SECRET_SHOWN_ONCE } from '../../src/http/idempotency.js'
import { ADMIN, FaultyStore, OWNER, READ_ENTRIES, startApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'

t.test('Idempotency-Key on POST', async (t) => {
  let store: FaultyStore | undefined
  const a = await startApp(t, { clock: true, wrapStore: (s) => (store = new FaultyStore(s)) })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const post = (url: string, body: unknown, key: string, as = OWNER) =>
    a.call({ method: 'POST', url, as, apiKey, body, headers: { 'idempotency-key': key } })
  const generate = { token: { name: 'once', scope: READ_ENTRIES } }

  t.test('create: a repeat with the same body replays status and body, without the secret, appending nothing', async (t) => {
    const first = await post(TOKENS, generate, 'k-create')
    t.equal(first.statusCode, 201)
    t.notOk(first.headers['idempotent-replayed'])
    const events = await a.eventTypes(apiKey)
    const again = await post(TOKENS, { token: { scope: READ_ENTRIES, name: 'once' } }, 'k-create')
    t.equal(again.statusCode, 201, 'the first status')
    t.equal(again.headers['idempotent-replayed'], 'true')
    const { token: secret, ...shown } = first.json().token
    t.match(secret, /^cs[0-9a-f]{32}/)
    t.same(again.json(), { ...first.json(), token: shown, secret_notice: SECRET_SHOWN_ONCE }, 'the first body, minus token.token, saying why')
    t.match(again.json().secret_notice, /shown once.*rotate/)
    t.same(await a.eventTypes(apiKey), events, 'nothing appended')
    const stored = await a.service.store.readStream(stackStream(apiKey))
    const marked = stored.filter((e) => (e.metadata as { idempotency?: unknown }).idempotency)
    t.equal(marked.length, 1, 'the key is recorded with the event it produced')
    t.match((marked[0]?.metadata as { idempotency: unknown }).idempotency, { key: /^[0-9a-f]{64}$/, request: /^[0-9a-f]{64}$/ }, 'as digests only')
    t.notMatch(JSON.stringify(stored), /k-create|"once"[^]*"once"/, 'neither the key nor the body is kept')
    t.notMatch(JSON.stringify(stored), secret, 'nor the secret')
  })

  t.test('same key with a different body: 422, nothing appended', async (t) => {
    const events = await a.eventTypes(apiKey)
    const res = await post(TOKENS, { token: { name: 'other', scope: READ_ENTRIES } }, 'k-create')
    t.equal(res.statusCode, 422)
    t.equal(res.json().error_code, 119)
    t.ok(res.json().errors['Idempotency-Key'])
    t.same(await a.eventTypes(apiKey), events)
  })

  t.test('keys are per caller: another admin with the same key gets a fresh execution', async (t) => {
    const res = await post(TOKENS, { token: { name: 'by admin', scope: READ_ENTRIES } }, 'k-create', ADMIN)
    t.equal(res.statusCode, 201)
    t.notOk(res.headers['idempotent-replayed'])
  })

  t.test('a failed request is not remembered: the retry runs', async (t) => {
    const bad = await post(TOKENS, { token: { name: 'once', scope: READ_ENTRIES } }, 'k-clash')
    t.equal(bad.statusCode, 422, 'name clash')
    const ok = await post(TOKENS, { token: { name: 'fixed', scope: READ_ENTRIES } }, 'k-clash')
    t.equal(ok.statusCode, 201)
    t.notOk(ok.headers['idempotent-replayed'])
  })

  t.test('rotate: the replay returns the first response without the new secret, and does not rotate again', async (t) => {
    const tok = await a.generate(apiKey, OWNER)
    const url = `${TOKENS}/${tok.uid}/rotate`
    const first = await post(url, { previous_expires_in_seconds: 60 }, 'k-rotate')
    t.equal(first.statusCode, 200)
    const rotations = (await a.eventTypes(apiKey)).filter((e) => e === 'TokenRotated').length
    const again = await post(url, { previous_expires_in_seconds: 60 }, 'k-rotate')
    t.equal(again.statusCode, 200)
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.notOk('token' in again.json().token)
    t.equal(again.json().token.uid, tok.uid)
    t.equal((await a.eventTypes(apiKey)).filter((e) => e === 'TokenRotated').length, rotations)
    const bare = () => a.call({ method: 'POST', url, as: OWNER, apiKey, headers: { 'idempotency-key': 'k-rotate-bare' } })
    t.equal((await bare()).statusCode, 200, 'no body at all')
    t.equal((await bare()).headers['idempotent-replayed'], 'true')
  })

  t.test('stack create, share, unshare and transfer replay too', async (t) => {
    const stack1 = await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: { stack: { name: 'S' } }, headers: { 'idempotency-key': 'k-stack' } })
    const stack2 = await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: { stack: { name: 'S' } }, headers: { 'idempotency-key': 'k-stack' } })
    t.equal(stack2.headers['idempotent-replayed'], 'true')
    t.same(stack2.json(), stack1.json(), 'one stack, not two')
    const share = { emails: ['x@example.com'], roles: { 'x@example.com': ['developer'] } }
    t.equal((await post('/v3/stacks/share', share, 'k-share')).statusCode, 200)
    const shareAgain = await post('/v3/stacks/share', share, 'k-share')
    t.equal(shareAgain.headers['idempotent-replayed'], 'true')
    t.equal((await post('/v3/stacks/unshare', { email: 'x@example.com' }, 'k-unshare')).statusCode, 200)
    const unshareAgain = await post('/v3/stacks/unshare', { email: 'x@example.com' }, 'k-unshare')
    t.equal(unshareAgain.statusCode, 200, 'a replay, not a 404 for the member already removed')
    t.equal(unshareAgain.headers['idempotent-replayed'], 'true')
    t.equal((await post('/v3/stacks/transfer_ownership', { transfer_to: ADMIN }, 'k-transfer')).statusCode, 200)
    const transferAgain = await post('/v3/stacks/transfer_ownership', { transfer_to: ADMIN }, 'k-transfer')
    t.equal(transferAgain.statusCode, 200, 'a replay, not a 403 for the former owner')
    t.equal(transferAgain.headers['idempotent-replayed'], 'true')
  })

  t.test('concurrent requests with one key: one execution, the others wait for it and replay', async (t) => {
    if (store) store.yieldAfterRead = true // the first is still running when the others arrive
    t.teardown(() => {
      if (store) store.yieldAfterRead = false
    })
    const before = (await a.eventTypes(apiKey)).length
    const body = { token: { name: 'raced', scope: READ_ENTRIES } }
    const all = await Promise.all(Array.from({ length: 5 }, () => post(TOKENS, body, 'k-race', ADMIN)))
    t.same(all.map((r) => r.statusCode), [201, 201, 201, 201, 201])
    t.equal(all.filter((r) => r.headers['idempotent-replayed'] === 'true').length, 4)
    t.equal((await a.eventTypes(apiKey)).length, before + 1, 'one TokenGenerated')
  })

  t.test('a key belongs to one request: another token, another route or another method is 422, nothing appended', async (t) => {
    const one = await a.generate(apiKey, OWNER)
    const two = await a.generate(apiKey, OWNER)
    const rotate = (uid: string) => post(`${TOKENS}/${uid}/rotate`, { previous_expires_in_seconds: 0 }, 'k-bound')
    const first = await rotate(one.uid)
    t.equal(first.statusCode, 200)
    const before = await a.eventTypes(apiKey)
    const other = await rotate(two.uid)
    t.equal(other.statusCode, 422, `the same key on another token's rotate: ${other.body}`)
    t.same(Object.keys(other.json().errors), ['Idempotency-Key'])
    t.match(other.json().error_message, /Idempotency-Key/)
    const share = await post('/v3/stacks/share', { emails: ['y@example.com'], roles: { 'y@example.com': ['developer'] } }, 'k-bound')
    t.equal(share.statusCode, 422, 'the same key on a share')
    const created = await post(TOKENS, { token: { name: 'bound', scope: READ_ENTRIES } }, 'k-bound-create')
    t.equal(created.statusCode, 201)
    const shareAfterCreate = await post('/v3/stacks/share', { emails: ['y@example.com'], roles: { 'y@example.com': ['developer'] } }, 'k-bound-create')
    t.equal(shareAfterCreate.statusCode, 422, 'a create key reused for a share is refused, not replayed')
    const del = await a.call({ method: 'DELETE', url: `${TOKENS}/${one.uid}`, as: OWNER, apiKey, headers: { 'idempotency-key': 'k-bound' } })
    t.equal(del.statusCode, 422, 'another method on the same token')
    t.same(await a.eventTypes(apiKey), [...before, 'TokenGenerated'], 'only the create appended')
    const secretWorks = await a.call({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: two.secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/x/entries' },
    })
    t.equal(secretWorks.statusCode, 200, "the second token's secret was not rotated away")
  })

  t.test('PUT and DELETE with a key replay too: a retried revoke is 200, not 404', async (t) => {
    const tok = await a.generate(apiKey, OWNER)
    const del = () => a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, headers: { 'idempotency-key': 'k-del' } })
    t.equal((await del()).statusCode, 200)
    const again = await del()
    t.equal(again.statusCode, 200)
    t.equal(again.headers['idempotent-replayed'], 'true')
    const { propagation, ...replayed } = again.json()
    t.same(replayed, { notice: 'Management Token deleted successfully.' })
    t.match(propagation, { instances: 1, confirmed: 1 }, 'a replayed revoke is confirmed again: the answer says it holds now')
    const tok2 = await a.generate(apiKey, OWNER)
    const put = () =>
      a.call({ method: 'PUT', url: `${TOKENS}/${tok2.uid}`, as: OWNER, apiKey, body: { token: { description: 'v2' } }, headers: { 'idempotency-key': 'k-put' } })
    const first = await put()
    await a.call({ method: 'PUT', url: `${TOKENS}/${tok2.uid}`, as: OWNER, apiKey, body: { token: { description: 'v3' } } })
    const replay = await put()
    t.equal(replay.headers['idempotent-replayed'], 'true')
    t.same(replay.json(), first.json(), 'the first answer, as it was then (description v2, not v3)')
  })

  t.test('a key longer than 255 characters is 422', async (t) => {
    const res = await post(TOKENS, generate, 'k'.repeat(256))
    t.equal(res.statusCode, 422)
    t.ok(res.json().errors['Idempotency-Key'])
  })

  t.test('keys are kept 24 hours', async (t) => {
    const body = { token: { name: 'daily', scope: READ_ENTRIES } }
    const first = await post(TOKENS, body, 'k-ttl')
    t.equal(first.statusCode, 201)
    a.clock?.advance(24 * 3600 * 1000 - 1)
    t.equal((await post(TOKENS, body, 'k-ttl')).headers['idempotent-replayed'], 'true', 'still kept just before 24 h')
    a.clock?.advance(2)
    const later = await post(TOKENS, body, 'k-ttl')
    t.equal(later.statusCode, 422, 'after 24 h the key is forgotten: the request runs again (and clashes on the name)')
    t.notOk(later.headers['idempotent-replayed'])
  })
})
