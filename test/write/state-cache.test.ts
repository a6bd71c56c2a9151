/** The pieces under the write path's cache: the cache itself, the key index, paged reads, paged replays. */
import t from 'tap'
import type { DomainEvent, EventMetadata, Recorded } from '../../src/domain/events.js'
import { fold, own, type OwnedState } from '../../src/domain/state.js'
import { forEachPage } from '../../src/eventstore/pages.js'
import type { EventStore, StoredEvent } from '../../src/eventstore/port.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { viewsAt } from '../../projections/views-at.js'
import { IDEMPOTENCY_WINDOW_MS, KeyUses } from '../../src/write/idempotency.js'
import { StateCache, unread, type Folded } from '../../src/write/state-cache.js'
import { API_KEY, created, shared } from '../support/decider-spec.js'
import { appendOk, newEvent } from '../support/event-store-contract.js'

const HOUR = 3_600_000
const T0 = Date.parse('2026-03-01T12:00:00.000Z')
const meta = (at: number, key?: string, request = 'r1'): EventMetadata => ({
  actor: 'u',
  occurred_at: new Date(at).toISOString(),
  request_id: 'q',
  remote_addr: '',
  schema_version: 1,
  ...(key ? { idempotency: { key, request } } : {}),
})

t.test('KeyUses: same request, another request, outside the window, and forgetting the stale', async (t) => {
  const keys = new KeyUses()
  keys.add(meta(T0), 0)
  keys.add(meta(T0, 'a'), 1)
  keys.add(meta(T0, 'a'), 2)
  keys.add(meta(T0 + HOUR, 'b', 'r2'), 3)
  t.equal(keys.size, 3, 'events without a key are not kept')
  const now = new Date(T0 + 2 * HOUR)
  t.same(keys.lookup({ key: 'a', request: 'r1' }, now), { kind: 'same', revisions: [1, 2] })
  t.same(keys.lookup({ key: 'a', request: 'r2' }, now), { kind: 'other' })
  t.same(keys.lookup({ key: 'c', request: 'r1' }, now), { kind: 'none' })
  const later = new Date(T0 + IDEMPOTENCY_WINDOW_MS + 30 * 60_000)
  t.same(keys.lookup({ key: 'a', request: 'r2' }, later), { kind: 'none' }, 'outside the window the key is free')
  t.same(keys.lookup({ key: 'b', request: 'r1' }, later), { kind: 'other' }, 'b is still inside it')
  t.equal(keys.size, 3, 'kept for a second window, for clocks that step back')
  keys.add(meta(T0 + 2 * IDEMPOTENCY_WINDOW_MS + HOUR, 'a'), 4)
  t.equal(keys.size, 2, 'a used again: its stale uses go, and it moves to the end')
  t.same(keys.lookup({ key: 'b', request: 'r1' }, new Date(T0 + 2 * IDEMPOTENCY_WINDOW_MS + 2 * HOUR)), { kind: 'none' })
  t.equal(keys.size, 1, 'b forgotten; a kept')
  t.same(keys.lookup({ key: 'a', request: 'r1' }, new Date(T0 + 2 * IDEMPOTENCY_WINDOW_MS + 2 * HOUR)), { kind: 'same', revisions: [4] })
})

const folded = (members: number): Folded => {
  const f = unread()
  f.state = own(fold([created, ...Array.from({ length: members }, (_, i) => shared(`m${i}@example.com`, ['developer']))])) as OwnedState
  return f
}

t.test('StateCache: take removes, put keeps the most recent within the budget', async (t) => {
  const cache = new StateCache(10)
  const a = folded(3) // weight 1 + 4 members
  const b = folded(3)
  cache.put('a', a)
  cache.put('a', a)
  t.equal(cache.size, 1, 'put again replaces')
  cache.put('b', b)
  t.equal(cache.size, 2, 'ten fits two of five')
  t.equal(cache.take('a'), a)
  t.equal(cache.take('a'), undefined, 'taken out')
  cache.put('a', a)
  cache.put('c', folded(0))
  t.equal(cache.take('b'), undefined, 'b, the least recently put, went')
  t.equal(cache.size, 2)
  cache.put('huge', folded(20))
  t.equal(cache.take('huge'), undefined, 'heavier than the budget: not kept')
  t.equal(cache.size, 2, 'and nothing else went for it')
})

t.test('forEachPage: up to a revision, and only what was asked even from a store that reads more', async (t) => {
  const inner = new SqliteEventStore(':memory:')
  t.teardown(() => inner.close())
  await appendOk(t, inner, 'stack-p', Array.from({ length: 10 }, (_, i) => newEvent(`E${i}`)), 'no_stream')
  const pages = async (store: EventStore, from: number, range: Parameters<typeof forEachPage>[4]) => {
    const got: number[][] = []
    await forEachPage(store, 'stack-p', from, (page: readonly StoredEvent[]) => got.push(page.map((e) => e.revision)), range)
    return got
  }
  t.same(await pages(inner, 2, { pageSize: 3, toRevision: 7 }), [[2, 3, 4], [5, 6, 7]])
  t.same(await pages(inner, 0, { pageSize: 4 }), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
  t.same(await pages(inner, 5, { toRevision: 4 }), [], 'an empty range reads nothing')
  const everything: EventStore = { ...inner, readStream: (stream) => inner.readStream(stream), append: inner.append.bind(inner), readAll: inner.readAll.bind(inner), subscribe: inner.subscribe.bind(inner), close: inner.close.bind(inner) }
  t.same(await pages(everything, 3, { pageSize: 4, toRevision: 8 }), [[3, 4, 5, 6, 7, 8]], 'the whole stream, cut to the range')
})

t.test('viewsAt: a long stream a page at a time; a failure rejects', async (t) => {
  const recorded = (event: DomainEvent, revision: number): Recorded => ({ event, metadata: meta(T0), stream: `stack-${API_KEY}`, revision, position: revision + 1, id: `id-${revision}` })
  const records = [created, ...Array.from({ length: 599 }, (_, i) => shared(`m${i}@example.com`, ['developer']))].map(recorded)
  const at = await viewsAt(records)
  t.equal(at.queries.members(API_KEY).length, 600, 'every page applied')
  at.close()
  const broken = recorded({ type: 'StackCreated', data: { api_key: API_KEY } } as unknown as DomainEvent, 0)
  await t.rejects(viewsAt([broken]))
})
