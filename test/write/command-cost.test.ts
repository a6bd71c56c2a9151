/**
 * What a command costs on a big stack: the write path keeps each stack's folded state with its
 * revision, folds only what was appended since, reads a long stream a page at a time with a turn
 * of the event loop between pages, and stays right when another writer appends in between.
 */
import * as E from 'fp-ts/lib/Either.js'
import t, { type Test } from 'tap'
import type { Command } from '../../src/domain/commands.js'
import { EsdbEventStore } from '../../src/eventstore/esdb.js'
import { STREAM_PAGE } from '../../src/eventstore/pages.js'
import { EventStoreUnavailable, type EventStore, type NewEvent } from '../../src/eventstore/port.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { createCommandHandler, type CommandHandlerDeps } from '../../src/write/handle-command.js'
import { POLICY } from '../support/decider-spec.js'
import { startEsdbDouble } from '../support/esdb-double.js'
import { Watched } from '../support/watched-store.js'

const NOW = new Date('2026-03-01T12:00:00.000Z')
const OWNER = { uid: 'u-owner', email: 'owner@example.com' }
const CTX = { requestId: 'req', remoteAddr: '10.0.0.1' }
const metadata = { actor: OWNER.uid, actor_email: OWNER.email, occurred_at: NOW.toISOString(), request_id: 'seed', remote_addr: '10.0.0.1', schema_version: 1 }

const stores: ReadonlyArray<readonly [string, (t: Test) => Promise<EventStore>]> = [
  ['SQLite', async () => new SqliteEventStore(':memory:')],
  [
    'the EventStoreDB double',
    async (t) => {
      const double = await startEsdbDouble()
      t.teardown(() => double.stop())
      return EsdbEventStore.connect(double.url)
    },
  ],
]

let stackNo = 0
/** A stack of `members` members (the owner one more), appended straight to the store. */
const bigStack = async (store: EventStore, members: number): Promise<string> => {
  stackNo += 1
  const apiKey = `bltcost${String(stackNo).padStart(10, '0')}`
  const event = (type: string, data: object): NewEvent => ({ id: crypto.randomUUID(), type, data: { api_key: apiKey, ...data }, metadata })
  const all = [
    event('StackCreated', { name: 'Big', description: '', owner_email: OWNER.email, owner_uid: OWNER.uid }),
    ...Array.from({ length: members }, (_, i) => event('MemberShared', { email: `m${i}@example.com`, roles: ['developer'] })),
  ]
  for (let at = 0; at < all.length; at += 1000) {
    const r = await store.append(stackStream(apiKey), all.slice(at, at + 1000), at === 0 ? 'no_stream' : at - 1)
    if (E.isLeft(r)) throw new Error('seed conflict')
  }
  if (store instanceof Watched) store.appends.splice(0)
  return apiKey
}

const handlerOn = (store: EventStore, more: Partial<CommandHandlerDeps> = {}) =>
  createCommandHandler({
    store,
    clock: () => NOW,
    policy: { ...POLICY, maxMembersPerStack: 1_000_000 },
    waitForProjection: async () => {},
    stacksCreatedBy: () => 0,
    backoffMs: () => 0,
    ...more,
  })

const share = (email: string): Command => ({ type: 'ShareStack', actor: OWNER, members: [{ email, roles: ['developer'] }] })
const generate = (uid: string): Command => ({
  type: 'GenerateToken',
  actor: OWNER,
  token_uid: uid,
  secret_hash: `hash-${uid}`,
  name: uid,
  description: '',
  scope: [{ module: 'entry', acl: { read: true, write: false } }],
  expires_on: null,
  rate_limit: null,
  is_email_notification_enabled: false,
})

const ok = async (t: Test, done: ReturnType<ReturnType<typeof handlerOn>>) => {
  const r = await done
  if (E.isLeft(r)) t.fail(`${r.left.code}: ${r.left.message}`)
  return r
}

for (const [name, open] of stores) {
  t.test(`${name}: a cold command reads the stack once, a page at a time; a warm one only what was appended since`, async (t) => {
    const store = new Watched(await open(t))
    t.teardown(() => store.close())
    const apiKey = await bigStack(store, 1000)
    const a = handlerOn(store)
    await ok(t, a(apiKey, share('new-1@example.com'), CTX))
    const cold = store.takeReads()
    t.same(cold.map((r) => r.got), [256, 256, 256, 233], 'the 1,001 events in pages of 256')
    t.same(cold.map((r) => r.from), [0, 256, 512, 768], 'each page from where the last ended')
    t.same(store.appends, [1000], 'appended at the revision folded to')

    await ok(t, a(apiKey, share('new-2@example.com'), CTX))
    t.same(store.takeReads(), [{ from: 1002, got: 0 }], 'warm: nothing new to read')
    t.same(store.appends, [1000, 1001])

    // Another instance appends: this one folds that event only.
    await ok(t, handlerOn(store)(apiKey, share('new-3@example.com'), CTX))
    store.takeReads()
    const again = await ok(t, a(apiKey, { type: 'UnshareStack', actor: OWNER, email: 'new-3@example.com' }, CTX))
    t.same(store.takeReads(), [{ from: 1003, got: 1 }], 'only the other writer’s event')
    t.same(E.isRight(again) && again.right.events.map((e) => e.type), ['MemberUnshared'], 'and it knows that member')
  })

  t.test(`${name}: a conflict refreshes the cached state, and the retry appends at the revision it folded to`, async (t) => {
    const store = new Watched(await open(t))
    t.teardown(() => store.close())
    const apiKey = await bigStack(store, 300)
    const policy = { ...POLICY, maxTokensPerStack: 1 }
    const a = handlerOn(store, { policy })
    const b = handlerOn(store, { policy })
    await ok(t, a(apiKey, share('warm@example.com'), CTX))
    store.takeReads()
    store.appends.splice(0)
    // Between A's fold and its append, B takes the stack's one token.
    store.beforeAppend = () => b(apiKey, generate('bltb'), CTX)
    const lost = await a(apiKey, generate('blta'), CTX)
    t.same(E.isLeft(lost) && lost.left.code, 'token-limit-reached', 'decided again on the refreshed state')
    t.same(store.appends, [301, 301], 'A at 301 (conflict), B at 301; A appended nothing after it saw B')
    t.same(
      store.takeReads().filter((r) => r.from === 302),
      [
        { from: 302, got: 0 },
        { from: 302, got: 1 },
      ],
      'A read nothing new, then, after the conflict, only B’s event',
    )
    const revoked = await ok(t, a(apiKey, { type: 'RevokeToken', actor: OWNER, token_uid: 'bltb' }, CTX))
    t.same(E.isRight(revoked) && revoked.right.events.map((e) => e.type), ['TokenRevoked'], 'A knows B’s token')
  })
}

t.test('a read that fails half-way drops the stack’s state: the next command reads the stream afresh', async (t) => {
  const store = new Watched(new SqliteEventStore(':memory:'))
  t.teardown(() => store.close())
  const apiKey = await bigStack(store, 600)
  const a = handlerOn(store)
  store.failRead = 2
  await t.rejects(a(apiKey, share('x@example.com'), CTX), EventStoreUnavailable)
  t.same(store.takeReads(), [{ from: 0, got: 256 }], 'one page folded, then the failure')
  await ok(t, a(apiKey, share('x@example.com'), CTX))
  t.same(store.takeReads().map((r) => r.from), [0, 256, 512], 'from the start, not from the half-folded page')
  t.same(store.appends, [600], 'at the right revision')
})

t.test('the least recently used stacks are let go beyond the budget; one heavier than the budget is never kept', async (t) => {
  const store = new Watched(new SqliteEventStore(':memory:'))
  t.teardown(() => store.close())
  const x = await bigStack(store, 400)
  const y = await bigStack(store, 400)
  const a = handlerOn(store, { cacheBudget: 600 })
  const froms = async (apiKey: string, email: string) => {
    await ok(t, a(apiKey, share(email), CTX))
    return store.takeReads().map((r) => r.from)
  }
  t.same(await froms(x, 'a@example.com'), [0, 256], 'x cold')
  t.same(await froms(x, 'b@example.com'), [402], 'x warm')
  t.same(await froms(y, 'a@example.com'), [0, 256], 'y cold: x goes')
  t.same(await froms(x, 'c@example.com'), [0, 256], 'x cold again')
  t.same(await froms(x, 'd@example.com'), [404], 'x warm')

  const tiny = handlerOn(store, { cacheBudget: 100 })
  await ok(t, tiny(y, share('b@example.com'), CTX))
  t.same(store.takeReads().map((r) => r.from), [0, 256])
  await ok(t, tiny(y, share('c@example.com'), CTX))
  t.same(store.takeReads().map((r) => r.from), [0, 256], 'too heavy to keep: cold every time')
})

t.test('a cold fold lets the event loop turn between pages', async (t) => {
  const store = new SqliteEventStore(':memory:')
  t.teardown(() => store.close())
  const apiKey = await bigStack(store, 5000)
  const order: string[] = []
  const done = handlerOn(store)(apiKey, share('new@example.com'), CTX).then(() => order.push('command'))
  setImmediate(() => order.push('another request'))
  await done
  t.same(order, ['another request', 'command'], 'the other work ran while the command folded')
})

t.test('a cold command reads its stack once, a page at a time; a warm one does not read it again', async (t) => {
  const store = new Watched(new SqliteEventStore(':memory:'))
  t.teardown(() => store.close())
  const small = await bigStack(store, 5000)
  const large = await bigStack(store, 10_000)
  // A new handler is a cold cache: the stack is read and folded whole, once. Its CPU cost at
  // either size is a benchmark's business (npm run bench:stack-cost), not a test's.
  const coldReads = async (apiKey: string) => {
    store.takeReads()
    await ok(t, handlerOn(store)(apiKey, share(`cold-${apiKey}@example.com`), CTX))
    const reads = store.takeReads()
    return { events: reads.reduce((sum, r) => sum + r.got, 0), largest: Math.max(...reads.map((r) => r.got)) }
  }
  const [cold5, cold10] = [await coldReads(small), await coldReads(large)]
  t.same([cold5.events, cold10.events], [5001, 10_001], 'cold: each event of the stack read once (the owner and every member)')
  t.ok(cold5.largest <= STREAM_PAGE && cold10.largest <= STREAM_PAGE, `cold: at most ${STREAM_PAGE} events a read`)

  const warmReads = async (apiKey: string) => {
    const a = handlerOn(store)
    await ok(t, a(apiKey, share(`w1-${apiKey}@example.com`), CTX))
    store.takeReads()
    await ok(t, a(apiKey, share(`w2-${apiKey}@example.com`), CTX))
    return store.takeReads().reduce((sum, r) => sum + r.got, 0)
  }
  t.same([await warmReads(small), await warmReads(large)], [0, 0], 'warm: no event read again at either size')
})

t.test('a repeated Idempotency-Key replays from a long stream, read a page at a time', async (t) => {
  const store = new Watched(new SqliteEventStore(':memory:'))
  t.teardown(() => store.close())
  const apiKey = await bigStack(store, 600)
  const idempotency = { key: 'k'.repeat(64), request: 'r'.repeat(64) }
  const first = await ok(t, handlerOn(store)(apiKey, share('once@example.com'), { ...CTX, idempotency }))
  store.takeReads()
  const again = await ok(t, handlerOn(store)(apiKey, share('once@example.com'), { ...CTX, idempotency }))
  t.same(store.appends, [600], 'nothing appended the second time')
  if (E.isLeft(first) || E.isLeft(again)) return
  t.same(again.right.events, first.right.events, 'the first execution’s events')
  t.equal(again.right.position, first.right.position)
  t.equal(again.right.replayed?.length, 602, 'the stream up to them')
  t.same(store.takeReads().slice(-3).map((r) => r.from), [0, 256, 512], 'the fold, then the replay: both in pages')
  const other = await handlerOn(store)(apiKey, share('other@example.com'), { ...CTX, idempotency: { ...idempotency, request: 'x'.repeat(64) } })
  t.match(other, { left: { code: 'validation', errors: { 'Idempotency-Key': [/already used for a different request/] } } })
  t.equal(STREAM_PAGE, 256)
})
