/**
 * The size limits (docs/limits.md) through the real app: emails per share, members per stack,
 * stacks per user (under concurrent creations too); and a big stack's command no longer holds
 * the requests of other stacks.
 */
import { randomUUID } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import type { NewEvent } from '../../src/eventstore/port.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, DEVELOPER, OWNER, startApp, STRANGER, uidOf, type TestApp } from '../support/app.js'
import { Watched } from '../support/watched-store.js'

const SHARE = '/v3/stacks/share'

const shareMany = (a: TestApp, apiKey: string, emails: string[], as = OWNER) =>
  a.call({ method: 'POST', url: SHARE, as, apiKey, body: { emails, roles: Object.fromEntries(emails.map((e) => [e, ['developer']])) } })

const tally = (responses: readonly LightMyRequestResponse[]) => {
  const by: Record<number, number> = {}
  for (const r of responses) by[r.statusCode] = (by[r.statusCode] ?? 0) + 1
  return by
}

/** StackCreated events in the whole store, by creator uid. */
const createdBy = async (a: TestApp, email: string) => {
  let n = 0
  for await (const e of a.service.store.readAll()) if (e.type === 'StackCreated' && (e.metadata as { actor: string }).actor === uidOf(email)) n += 1
  return n
}

t.test('MAX_EMAILS_PER_SHARE: a longer list is 422 on emails, and nothing is appended', async (t) => {
  const a = await startApp(t, { config: { maxEmailsPerShare: 3 } })
  const apiKey = await a.createStack()
  const before = await a.eventTypes(apiKey)
  const res = await shareMany(a, apiKey, ['a@example.com', 'b@example.com', 'c@example.com', 'd@example.com'])
  t.equal(res.statusCode, 422)
  t.match(res.json(), { error_code: 119, error_message: /emails: must list at most 3 emails per request \(got 4\)/, errors: { emails: [/at most 3/] } })
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')
  t.equal((await shareMany(a, apiKey, ['a@example.com', 'b@example.com', 'c@example.com'])).statusCode, 200, 'three is allowed')
})

t.test('MAX_MEMBERS_PER_STACK: the owner counts; one more is 422 on emails and appends nothing; new roles and room freed stay allowed', async (t) => {
  const a = await startApp(t, { config: { maxMembersPerStack: 3 } })
  const apiKey = await a.createStack()
  t.equal((await shareMany(a, apiKey, [ADMIN, DEVELOPER])).statusCode, 200, 'the owner and two members')
  const before = await a.eventTypes(apiKey)
  const res = await shareMany(a, apiKey, [STRANGER])
  t.equal(res.statusCode, 422)
  t.match(res.json(), {
    error_code: 119,
    error_message: 'A stack may have at most 3 members, its owner included; it has 3.',
    errors: { emails: ['limit of 3 members per stack reached: 1 new, 0 more allowed'] },
  })
  t.same(await a.eventTypes(apiKey), before, 'nothing appended')
  const roles = await a.call({ method: 'PUT', url: '/v3/stacks/users/roles', as: OWNER, apiKey, body: { users: { [DEVELOPER]: ['admin'] } } })
  t.equal(roles.statusCode, 200, 'a member’s new roles add no one')
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks/unshare', as: OWNER, apiKey, body: { email: ADMIN } })).statusCode, 200)
  t.equal((await shareMany(a, apiKey, [STRANGER])).statusCode, 200, 'room freed by an unshare')
})

t.test('MAX_STACKS_PER_USER: of concurrent creations exactly the quota succeeds; the rest are 422 on stack and append nothing', async (t) => {
  const quota = 3
  const a = await startApp(t, { config: { maxStacksPerUser: quota } })
  const creates = await Promise.all(
    Array.from({ length: quota + 5 }, (_, i) => a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: { stack: { name: `S${i}` } } })),
  )
  t.same(tally(creates), { 201: quota, 422: 5 })
  for (const r of creates.filter((x) => x.statusCode === 422))
    t.match(r.json(), { error_code: 119, error_message: `A user may create at most ${quota} stacks.`, errors: { stack: [`limit of ${quota} stacks per user reached`] } })
  t.equal(await createdBy(a, OWNER), quota, 'exactly three StackCreated in the store')
  t.equal((await a.call({ method: 'GET', url: '/v3/stacks', as: OWNER })).json().stacks.length, quota)
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks', as: ADMIN, body: { stack: { name: 'Theirs' } } })).statusCode, 201, 'another user’s quota is their own')
})

t.test('MAX_STACKS_PER_USER counts stacks created, so giving one away frees nothing; a replayed creation is still answered', async (t) => {
  const a = await startApp(t, { config: { maxStacksPerUser: 2 } })
  const keyed = (key: string) => a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, headers: { 'idempotency-key': key }, body: { stack: { name: 'Keyed' } } })
  const first = await keyed('create-1')
  t.equal(first.statusCode, 201)
  const apiKey = await a.createStack(OWNER, 'Second')
  await a.share(apiKey, OWNER, ADMIN, ['developer'])
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks/transfer_ownership', as: OWNER, apiKey, body: { transfer_to: ADMIN } })).statusCode, 200)
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks', as: OWNER, body: { stack: { name: 'Third' } } })).statusCode, 422, 'still two created')
  const again = await keyed('create-1')
  t.equal(again.statusCode, 201, 'the same request again is a replay, not a new stack')
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.json().stack.api_key, first.json().stack.api_key)
  t.equal((await keyed('create-2')).statusCode, 422, 'a new key is a new stack')
})

t.test('requests to another stack are answered while a command folds a big stack, before it appends', async (t) => {
  let watched: Watched | undefined
  const a = await startApp(t, { config: { maxMembersPerStack: 1_000_000 }, wrapStore: (s) => (watched = new Watched(s)) })
  const store = watched as Watched
  const big = await a.createStack(OWNER, 'Big')
  const small = await a.createStack(ADMIN, 'Small')
  const token = await a.generate(small, ADMIN)
  // 10,000 members appended straight to the store: the write path has folded the big stack at
  // its creation only, so its next command reads and folds them all.
  const metadata = { actor: uidOf(OWNER), actor_email: OWNER, occurred_at: new Date().toISOString(), request_id: 'seed', remote_addr: '10.0.0.1', schema_version: 1 }
  const events: NewEvent[] = Array.from({ length: 10_000 }, (_, i) => ({
    id: randomUUID(),
    type: 'MemberShared',
    data: { api_key: big, email: `m${i}@example.com`, roles: ['developer'] },
    metadata,
  }))
  let position = 0
  for (let at = 0; at < events.length; at += 1000) {
    const r = await a.service.store.append(stackStream(big), events.slice(at, at + 1000), at)
    if (E.isRight(r)) position = r.right.position
  }
  await a.service.projector.waitFor(position)

  const order: string[] = []
  const settle = (what: string) => (res: LightMyRequestResponse) => {
    order.push(what)
    return res
  }
  // The other requests start once the big stack's command is reading its stream.
  let others: Promise<LightMyRequestResponse[]> | undefined
  store.onRead = (stream) => {
    if (stream !== stackStream(big) || others) return
    others = Promise.all([
      a.app
        .inject({
          method: 'GET',
          url: '/v3/authorize',
          headers: { api_key: small, authorization: token.secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' },
        })
        .then(settle('forward-auth on another stack')),
      a.call({ method: 'GET', url: '/v3/stacks', as: ADMIN, apiKey: small }).then(settle('GET another stack')),
    ])
  }
  store.onAppended = (stream) => {
    if (stream === stackStream(big)) order.push('the big stack’s command appended')
  }
  const shared = await shareMany(a, big, ['late@example.com'])
  const [authorized, read] = (await others) as LightMyRequestResponse[]
  t.same([shared.statusCode, authorized?.statusCode, read?.statusCode], [200, 200, 200])
  t.same(order.slice(2), ['the big stack’s command appended'], `both others first: ${order.join(', ')}`)
  t.same(await a.service.store.readStream(stackStream(big), { fromRevision: 10_001 }).then((es) => es.map((e) => e.type)), ['MemberShared'])
})
