/**
 * The event-store port's contract, as one suite every adapter must pass (SQLite, EventStoreDB on
 * the gRPC test double, a real EventStoreDB when ESDB_URL is set).
 *
 * Written to pass on a shared store that already holds data: every test writes to fresh
 * `stack-blt<random>` streams, and reads of $all start after a marker event it appended itself
 * and look only at its own streams. Nothing waits a fixed time: asynchronous outcomes are awaited
 * with the bounded `waitFor`.
 */
import { randomBytes, randomUUID } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import type { Test } from 'tap'
import type { EventStore, NewEvent, StoredEvent, Subscription } from '../../src/eventstore/port.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { waitFor } from './wait-for.js'

export interface StoreUnderTest {
  readonly store: EventStore
  /** Extra clean-up after `store.close()`, e.g. removing a temp file or stopping a server. */
  readonly close?: () => Promise<void>
}

export const freshStream = (): string => stackStream(`blt${randomBytes(8).toString('hex')}`)

export const newEvent = (type: string, data: unknown = { at: randomUUID() }, metadata: unknown = { by: 'contract' }): NewEvent => ({
  id: randomUUID(),
  type,
  data,
  metadata,
})

/** Appends and returns the result, failing the test on a conflict. */
export const appendOk = async (t: Test, store: EventStore, stream: string, events: readonly NewEvent[], expected: Parameters<EventStore['append']>[2]) => {
  const result = await store.append(stream, events, expected)
  if (E.isLeft(result)) throw new Error(`unexpected conflict on ${stream}: ${JSON.stringify(result.left)}`)
  t.ok(true, `appended ${events.length} to ${stream}`)
  return result.right
}

/** A position every later append lies after: the position of a marker event appended now. */
export const markPosition = async (t: Test, store: EventStore): Promise<number> =>
  (await appendOk(t, store, freshStream(), [newEvent('ContractMarker')], 'no_stream')).position

export const collectAll = async (iterable: AsyncIterable<StoredEvent>): Promise<StoredEvent[]> => {
  const events: StoredEvent[] = []
  for await (const event of iterable) events.push(event)
  return events
}

/** A subscription that records what it delivers; closed in teardown. */
export interface Recorder {
  /** Every event delivered, from any stream, in delivery order. */
  readonly all: StoredEvent[]
  readonly errors: unknown[]
  /** How many events had been delivered at each onCaughtUp call. */
  readonly caughtUpAt: number[]
  readonly subscription: Subscription
  /** Delivered events of the given streams. */
  of(streams: ReadonlySet<string>): StoredEvent[]
}

export const record = (
  t: Test,
  store: EventStore,
  after: number,
  onEvent: (event: StoredEvent) => void | Promise<void> = () => undefined,
): Recorder => {
  const all: StoredEvent[] = []
  const errors: unknown[] = []
  const caughtUpAt: number[] = []
  const subscription = store.subscribe({
    after,
    onEvents: async (events) => {
      for (const event of events) {
        all.push(event)
        await onEvent(event)
      }
    },
    onCaughtUp: () => caughtUpAt.push(all.length),
    onError: (error) => errors.push(error),
  })
  t.teardown(() => subscription.close())
  return { all, errors, caughtUpAt, subscription, of: (streams) => all.filter((event) => streams.has(event.stream)) }
}

/** No event delivered twice, and positions strictly increasing across the whole delivery. */
export const assertOrderedOnce = (t: Test, events: readonly StoredEvent[], label: string) => {
  t.equal(new Set(events.map((event) => event.id)).size, events.length, `${label}: no event delivered twice`)
  const increasing = events.every((event, i) => i === 0 || event.position > (events[i - 1] as StoredEvent).position)
  t.ok(increasing, `${label}: positions strictly increase`)
}

const ids = (events: readonly { id: string }[]) => events.map((event) => event.id)

export const eventStoreContract = (
  t: Test,
  name: string,
  makeStore: () => Promise<StoreUnderTest>,
): Promise<unknown> =>
  t.test(`${name} honours the event-store contract`, async (t) => {
    const open = async (t: Test): Promise<EventStore> => {
      const { store, close } = await makeStore()
      t.teardown(async () => {
        await store.close()
        await close?.()
      })
      return store
    }

    t.test('append with no_stream creates the stream at revision 0', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      const event = newEvent('TokenCreated', { name: 'ci' }, { request_id: 'r-1' })
      const before = Date.now()
      const result = await store.append(stream, [event], 'no_stream')
      t.ok(E.isRight(result), 'appended')
      const [stored, ...rest] = await store.readStream(stream)
      t.same(rest, [], 'one event')
      t.match(stored, { id: event.id, stream, revision: 0, type: 'TokenCreated', data: { name: 'ci' }, metadata: { request_id: 'r-1' } })
      t.same(result, E.right({ revision: 0, position: stored?.position }), 'result has the revision and position of the event')
      const recordedAt = stored?.recorded_at ?? ''
      t.equal(new Date(recordedAt).toISOString(), recordedAt, 'recorded_at is ISO-8601')
      t.ok(Math.abs(Date.parse(recordedAt) - before) < 10 * 60_000, 'recorded_at is about now')
    })

    t.test('append with the current revision extends the stream', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      const first = await appendOk(t, store, stream, [newEvent('A')], 'no_stream')
      const second = await appendOk(t, store, stream, [newEvent('B')], 0)
      t.equal(second.revision, 1)
      t.ok(second.position > first.position, 'position grows')
      t.same((await store.readStream(stream)).map((event) => [event.type, event.revision]), [['A', 0], ['B', 1]])
    })

    t.test('readStream reads a page: from a revision, at most a count', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      await appendOk(t, store, stream, ['A', 'B', 'C', 'D', 'E'].map((type) => newEvent(type)), 'no_stream')
      const read = async (options: Parameters<EventStore['readStream']>[1]) => (await store.readStream(stream, options)).map((e) => [e.type, e.revision])
      t.same(await read({ fromRevision: 2 }), [['C', 2], ['D', 3], ['E', 4]], 'from revision 2 to the end')
      t.same(await read({ fromRevision: 1, maxCount: 2 }), [['B', 1], ['C', 2]], 'two from revision 1')
      t.same(await read({ maxCount: 1 }), [['A', 0]], 'the first')
      t.same(await read({ fromRevision: 5 }), [], 'past the end: nothing')
      t.same(await store.readStream(freshStream(), { fromRevision: 3, maxCount: 2 }), [], 'an unknown stream is empty')
    })

    t.test("'any' appends whatever the stream's revision", async (t) => {
      const store = await open(t)
      const stream = freshStream()
      t.equal((await appendOk(t, store, stream, [newEvent('A')], 'any')).revision, 0)
      t.equal((await appendOk(t, store, stream, [newEvent('B')], 'any')).revision, 1)
    })

    t.test('a stale expected revision is a version-conflict with the actual revision, and appends nothing', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      await appendOk(t, store, stream, [newEvent('A'), newEvent('B')], 'no_stream')
      const result = await store.append(stream, [newEvent('C'), newEvent('D')], 0)
      t.same(result, E.left({ kind: 'version-conflict', stream, expected: 0, actual: 1 }))
      t.same((await store.readStream(stream)).map((event) => event.type), ['A', 'B'], 'nothing appended')
    })

    t.test('no_stream on an existing stream conflicts', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      await appendOk(t, store, stream, [newEvent('A')], 'no_stream')
      t.same(await store.append(stream, [newEvent('B')], 'no_stream'), E.left({ kind: 'version-conflict', stream, expected: 'no_stream', actual: 0 }))
      t.equal((await store.readStream(stream)).length, 1, 'nothing appended')
    })

    t.test('a numeric expected revision on a missing stream conflicts with actual no_stream', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      t.same(await store.append(stream, [newEvent('A')], 0), E.left({ kind: 'version-conflict', stream, expected: 0, actual: 'no_stream' }))
      t.same(await store.readStream(stream), [], 'stream still missing')
    })

    t.test('a multi-event append is atomic, with consecutive revisions and increasing positions', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      const events = [newEvent('A'), newEvent('B'), newEvent('C')]
      const result = await appendOk(t, store, stream, events, 'no_stream')
      const stored = await store.readStream(stream)
      t.same(ids(stored), ids(events), 'all events, in order')
      t.same(stored.map((event) => event.revision), [0, 1, 2])
      assertOrderedOnce(t, stored, 'readStream')
      t.same(result, { revision: 2, position: stored[2]?.position }, 'result is the last event')
      const conflict = await store.append(stream, [newEvent('D'), newEvent('E')], 1)
      t.ok(E.isLeft(conflict), 'a conflicting batch is refused')
      t.equal((await store.readStream(stream)).length, 3, '... and none of it is written')
    })

    t.test('readStream of an unknown stream is empty', async (t) => {
      const store = await open(t)
      t.same(await store.readStream(freshStream()), [])
    })

    t.test('data and metadata round-trip as JSON', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      const data = { text: 'žluťoučký kůň 🐎', n: 42, f: 1.5, yes: true, no: false, none: null, list: [1, 'two', { three: 3 }], nested: { a: { b: [] } } }
      const metadata = { request_id: randomUUID(), actor: { uid: 'blt1', email: 'a@example.com' } }
      await appendOk(t, store, stream, [newEvent('Shaped', data, metadata)], 'no_stream')
      const [stored] = await store.readStream(stream)
      t.same(stored?.data, data)
      t.same(stored?.metadata, metadata)
    })

    t.test('readAll yields events in position order after an exclusive position, up to maxCount', async (t) => {
      const store = await open(t)
      const mark = await markPosition(t, store)
      const a = freshStream()
      const b = freshStream()
      const ours = new Set([a, b])
      const appended = [newEvent('A1'), newEvent('B1'), newEvent('A2'), newEvent('A3')]
      await appendOk(t, store, a, [appended[0] as NewEvent], 'no_stream')
      await appendOk(t, store, b, [appended[1] as NewEvent], 'no_stream')
      await appendOk(t, store, a, appended.slice(2), 0)

      const all = await collectAll(store.readAll({ after: mark }))
      t.ok(all.every((event) => event.position > mark), 'only positions after `after`')
      assertOrderedOnce(t, all, 'readAll')
      const mine = all.filter((event) => ours.has(event.stream))
      t.same(ids(mine), ids(appended), 'every event, in append order')

      const first = mine[0] as StoredEvent
      const afterFirst = (await collectAll(store.readAll({ after: first.position }))).filter((event) => ours.has(event.stream))
      t.same(ids(afterFirst), ids(appended.slice(1)), 'after is exclusive')

      const two = await collectAll(store.readAll({ after: mark, maxCount: 2 }))
      t.same(ids(two), ids(all.slice(0, 2)), 'maxCount stops after that many events')
      t.same(await collectAll(store.readAll({ after: mark, maxCount: 0 })), [], 'maxCount 0 yields nothing')

      let seen = 0
      for await (const event of store.readAll({ after: mark })) {
        if (ours.has(event.stream)) seen += 1
        if (seen === 1) break
      }
      t.equal(seen, 1, 'a reader may stop early')
    })

    t.test('subscribe catches up from `after`, then delivers live events, in order, each once', async (t) => {
      const store = await open(t)
      const mark = await markPosition(t, store)
      const stream = freshStream()
      const ours = new Set([stream])
      const early = [newEvent('E1'), newEvent('E2'), newEvent('E3')]
      await appendOk(t, store, stream, early, 'no_stream')

      // A slow handler: deliveries must still come one batch at a time, in order.
      const recorder = record(t, store, mark, () => new Promise((resolve) => setImmediate(resolve)))
      await waitFor(() => recorder.caughtUpAt.length > 0, { label: 'onCaughtUp' })
      const atCaughtUp = recorder.all.slice(0, recorder.caughtUpAt[0]).filter((event) => ours.has(event.stream))
      t.same(ids(atCaughtUp), ids(early), 'onCaughtUp comes after the events already stored were delivered')

      const live = [newEvent('L1'), newEvent('L2')]
      await appendOk(t, store, stream, [live[0] as NewEvent], 2)
      await appendOk(t, store, stream, [live[1] as NewEvent], 3)
      await waitFor(() => recorder.of(ours).length >= 5, { label: 'live events' })
      t.same(ids(recorder.of(ours)), ids([...early, ...live]), 'live events follow, in order')
      t.ok(recorder.all.every((event) => event.position > mark), 'nothing at or before `after`')
      assertOrderedOnce(t, recorder.all, 'subscription')
      t.same(recorder.errors, [], 'no errors')
    })

    t.test('subscribe after a position skips everything up to it', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      const events = [newEvent('S1'), newEvent('S2'), newEvent('S3')]
      await appendOk(t, store, stream, events, 'no_stream')
      const [, second] = await store.readStream(stream)
      const recorder = record(t, store, (second as StoredEvent).position)
      const ours = new Set([stream])
      await waitFor(() => recorder.of(ours).length >= 1, { label: 'the third event' })
      const later = newEvent('S4')
      await appendOk(t, store, stream, [later], 2)
      await waitFor(() => recorder.of(ours).length >= 2, { label: 'a live event' })
      t.same(ids(recorder.of(ours)), ids([events[2] as NewEvent, later]))
    })

    t.test('close() stops delivery', async (t) => {
      const store = await open(t)
      const mark = await markPosition(t, store)
      const stream = freshStream()
      const ours = new Set([stream])
      const closed = record(t, store, mark)
      await appendOk(t, store, stream, [newEvent('Before')], 'no_stream')
      await waitFor(() => closed.of(ours).length === 1, { label: 'first event' })
      await closed.subscription.close()

      await appendOk(t, store, stream, [newEvent('After')], 0)
      // A second subscription is the barrier: once it has the event, the closed one had its chance.
      const witness = record(t, store, mark)
      await waitFor(() => witness.of(ours).length === 2, { label: 'witness sees both events' })
      t.same(closed.of(ours).map((event) => event.type), ['Before'], 'nothing after close')
      t.same(closed.errors, [], 'closing is not an error')
      await closed.subscription.close()
      t.pass('closing twice is harmless')
    })

    t.test('a subscription closed from inside its handler gets no further batch', async (t) => {
      const store = await open(t)
      const mark = await markPosition(t, store)
      const stream = freshStream()
      const ours = new Set([stream])
      await appendOk(t, store, stream, [newEvent('A'), newEvent('B'), newEvent('C')], 'no_stream')
      let batches = 0
      let closing: Promise<void> | undefined
      // Not awaited inside the handler: close() waits for the handler to return.
      const subscription: Subscription = store.subscribe({
        after: mark,
        onEvents: () => {
          batches += 1
          closing ??= Promise.resolve().then(() => subscription.close())
        },
      })
      t.teardown(() => subscription.close())
      await waitFor(() => closing !== undefined, { label: 'first batch' })
      await closing
      const witness = record(t, store, mark)
      await waitFor(() => witness.of(ours).length === 3, { label: 'witness sees all events' })
      t.equal(batches, 1, 'one batch, then nothing')
    })

    t.test('a handler that throws ends the subscription through onError', async (t) => {
      const store = await open(t)
      const mark = await markPosition(t, store)
      const stream = freshStream()
      const ours = new Set([stream])
      const boom = new Error('handler failed')
      const failing = record(t, store, mark, (event) => {
        if (event.stream === stream) throw boom
      })
      await appendOk(t, store, stream, [newEvent('Poison'), newEvent('Next')], 'no_stream')
      await waitFor(() => failing.errors.length > 0, { label: 'onError' })
      t.same(failing.errors, [boom], 'onError gets the handler error, once')
      await appendOk(t, store, stream, [newEvent('Later')], 1)
      const witness = record(t, store, mark)
      await waitFor(() => witness.of(ours).length === 3, { label: 'witness sees all events' })
      t.same(failing.of(ours).map((event) => event.type), ['Poison'], 'no delivery after the failure')
    })

    t.test('racing appends with the same expected revision: exactly one wins', async (t) => {
      const store = await open(t)
      const stream = freshStream()
      await appendOk(t, store, stream, [newEvent('Created')], 'no_stream')
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.append(stream, [newEvent(`Racer${i}`)], 0)))
      const winners = results.filter(E.isRight)
      const losers = results.filter(E.isLeft)
      t.equal(winners.length, 1, 'one append wins')
      t.equal(losers.length, 9, 'nine conflict')
      t.ok(losers.every((result) => result.left.kind === 'version-conflict' && result.left.actual === 1), 'losers see revision 1')
      t.equal((await store.readStream(stream)).length, 2, 'exactly one racer written')
    })

    t.test('closing the store ends its subscriptions quietly', async (t) => {
      const { store, close } = await makeStore()
      t.teardown(() => close?.())
      const recorder = record(t, store, await markPosition(t, store))
      await store.close()
      await recorder.subscription.close()
      t.same(recorder.errors, [], 'no onError')
    })
  })
