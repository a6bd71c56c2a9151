/**
 * The EventStoreDB adapter through the real @eventstore/db-client, over real gRPC, against the
 * in-process TEST DOUBLE of test/support/esdb-double.ts (no EventStoreDB server on this machine).
 */
import { EventStoreDBClient } from '@eventstore/db-client'
import { status } from '@grpc/grpc-js'
import * as E from 'fp-ts/lib/Either.js'
import t, { type Test } from 'tap'
import { EsdbEventStore, type EsdbEventStoreOptions } from '../../src/eventstore/esdb.js'
import { EventStoreUnavailable, type EventStore, type NewEvent } from '../../src/eventstore/port.js'
import { startEsdbDouble, type EsdbDouble } from '../support/esdb-double.js'
import {
  appendOk,
  assertOrderedOnce,
  collectAll,
  eventStoreContract,
  freshStream,
  markPosition,
  newEvent,
  record,
} from '../support/event-store-contract.js'
import { waitFor } from '../support/wait-for.js'

// Quick resubscription, so that outage tests do not wait for production-sized backoffs.
const fast: EsdbEventStoreOptions = { resubscribeInitialDelayMs: 10, resubscribeMaxDelayMs: 100 }

/** A double of its own, for tests that stop it or inject faults. */
const ownDouble = async (t: Test, options?: Parameters<typeof startEsdbDouble>[0]): Promise<EsdbDouble> => {
  const double = await startEsdbDouble(options)
  t.teardown(() => double.stop())
  return double
}

const connect = (t: Test, double: EsdbDouble, options: EsdbEventStoreOptions = fast): EsdbEventStore => {
  const store = EsdbEventStore.connect(double.url, options)
  t.teardown(() => store.close())
  return store
}

const shared = await startEsdbDouble()
t.teardown(() => shared.stop())

await eventStoreContract(t, 'EsdbEventStore on the gRPC test double', async () => ({
  store: EsdbEventStore.connect(shared.url, fast),
}))

t.test('only this service’s streams are visible through readAll and subscribe, and no system events', async (t) => {
  const store = connect(t, shared)
  const mark = await markPosition(t, store)
  const stack = freshStream()
  const foreign = `orders-${stack}`
  const recorder = record(t, store, mark)
  await appendOk(t, store, stack, [newEvent('Visible1')], 'no_stream')
  await appendOk(t, store, foreign, [newEvent('Foreign')], 'no_stream')
  await appendOk(t, store, stack, [newEvent('$system-like')], 0)
  await appendOk(t, store, stack, [newEvent('Visible2')], 1)

  const read = await collectAll(store.readAll({ after: mark }))
  t.same(read.map((event) => event.type), ['Visible1', 'Visible2'], 'readAll')
  await waitFor(() => recorder.all.length === 2, { label: 'two visible events' })
  t.same(recorder.all.map((event) => event.type), ['Visible1', 'Visible2'], 'subscribe')
  t.same((await store.readStream(stack)).map((event) => event.type), ['Visible1', '$system-like', 'Visible2'], 'readStream is verbatim')
  t.equal(shared.events.filter((event) => event.stream === foreign).length, 1, 'the foreign event is in the log')
})

t.test('two clients on one server see each other’s appends', async (t) => {
  const one = connect(t, shared)
  const two = connect(t, shared)
  const mark = await markPosition(t, one)
  const stream = freshStream()
  const ours = new Set([stream])
  const seenByTwo = record(t, two, mark)
  await appendOk(t, one, stream, [newEvent('FromOne')], 'no_stream')
  await waitFor(() => seenByTwo.of(ours).length === 1, { label: 'two sees one’s append' })
  t.same(await two.readStream(stream), await one.readStream(stream))
})

t.test('a store behind a network has none of the embedded store\'s capabilities: callers take the port\'s way', async (t) => {
  const store = connect(t, shared)
  t.equal((store as EventStore).embedded, undefined)
})

t.test('an empty append succeeds and reports no position', async (t) => {
  const store = connect(t, shared)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('A')], 'no_stream')
  t.same(await store.append(stream, [], 0), E.right({ revision: 0, position: 0 }))
})

t.test('metadata the client reads back as empty becomes null', async (t) => {
  const store = connect(t, shared)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('NoMetadata', { a: 1 }, null)], 'no_stream')
  t.equal((await store.readStream(stream))[0]?.metadata, null)
})

t.test('while the server is down, reads and appends throw EventStoreUnavailable; afterwards they work again', async (t) => {
  const double = await ownDouble(t)
  const store = connect(t, double)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('Before')], 'no_stream')
  await double.stop()

  await t.rejects(store.append(stream, [newEvent('During')], 0), EventStoreUnavailable, 'append')
  await t.rejects(store.readStream(stream), EventStoreUnavailable, 'readStream')
  await t.rejects(collectAll(store.readAll()), EventStoreUnavailable, 'readAll')

  await double.restart()
  // Appends are not retried by the adapter (the caller answers 503); the client reconnects on the next call.
  await waitFor(async () => E.isRight(await store.append(stream, [newEvent('After')], 0).catch(() => E.left(null))), {
    label: 'append works again',
  })
  t.same((await store.readStream(stream)).map((event) => event.type), ['Before', 'After'], 'nothing written during the outage')
})

t.test('a subscription survives an outage: every event exactly once, in order', async (t) => {
  const double = await ownDouble(t)
  const store = connect(t, double)
  const stream = freshStream()
  const ours = new Set([stream])
  const recorder = record(t, store, 0)
  const appended: NewEvent[] = []
  const append = async (type: string) => {
    const event = newEvent(type)
    await appendOk(t, store, stream, [event], appended.length === 0 ? 'no_stream' : appended.length - 1)
    appended.push(event)
  }

  for (const type of ['Up1', 'Up2', 'Up3']) await append(type)
  await waitFor(() => recorder.of(ours).length === 3, { label: 'events before the outage' })

  await double.stop()
  await t.rejects(store.append(stream, [newEvent('Lost')], appended.length - 1), EventStoreUnavailable, 'append during the outage rejects')
  await double.restart()

  // Written after the restart, possibly before the subscription is back: catch-up must bring them.
  // The first append is tried until the client has reconnected (an append is never retried for us).
  const back = newEvent('Back1')
  await waitFor(async () => E.isRight(await store.append(stream, [back], 2).catch(() => E.left(null))), {
    label: 'server back',
  })
  appended.push(back)
  for (const type of ['Back2', 'Back3']) await append(type)

  await waitFor(() => recorder.of(ours).length >= 6, { label: 'events after the outage' })
  await waitFor(() => double.liveSubscriptions === 1, { label: 'resubscribed' })
  await append('Live')
  await waitFor(() => recorder.of(ours).length >= 7, { label: 'a live event after resubscribing' })
  t.same(
    recorder.of(ours).map((event) => event.id),
    appended.map((event) => event.id),
    'every event exactly once, in order',
  )
  assertOrderedOnce(t, recorder.all, 'across the outage')
  t.same(recorder.errors, [], 'an outage is not a failure')
})

t.test('closing a subscription during an outage does not wait for the backoff', async (t) => {
  const double = await ownDouble(t)
  const client = EventStoreDBClient.connectionString(double.url)
  let attempts = 0
  const subscribeToAll = client.subscribeToAll.bind(client)
  client.subscribeToAll = (...args: Parameters<typeof subscribeToAll>) => {
    attempts += 1
    return subscribeToAll(...args)
  }
  const store = new EsdbEventStore(client, { resubscribeInitialDelayMs: 5, resubscribeMaxDelayMs: 60_000 })
  t.teardown(() => store.close())
  const recorder = record(t, store, 0)
  await waitFor(() => double.liveSubscriptions === 1, { label: 'subscribed' })
  await double.stop()
  await waitFor(() => attempts >= 4, { label: 'a few failed resubscriptions' })

  const outcome = await Promise.race([
    recorder.subscription.close().then(() => 'closed'),
    new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting')),
  ])
  t.equal(outcome, 'closed')
  t.same(recorder.errors, [])
})

t.test('failures other than connection failures pass through untranslated', async (t) => {
  const double = await ownDouble(t)
  const store = connect(t, double)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('A')], 'no_stream')
  const notUnavailable = (error: unknown) => !(error instanceof EventStoreUnavailable) && error instanceof Error

  double.failNext('read', status.PERMISSION_DENIED)
  const readError = await store.readStream(stream).catch((error: unknown) => error)
  t.ok(notUnavailable(readError), `readStream: ${String(readError)}`)

  double.failNext('read', status.PERMISSION_DENIED)
  const readAllError = await collectAll(store.readAll()).catch((error: unknown) => error)
  t.ok(notUnavailable(readAllError), `readAll: ${String(readAllError)}`)

  double.failNext('append', status.PERMISSION_DENIED)
  const appendError = await store.append(stream, [newEvent('B')], 0).catch((error: unknown) => error)
  t.ok(notUnavailable(appendError), `append: ${String(appendError)}`)

  double.failNext('read', status.PERMISSION_DENIED)
  const recorder = record(t, store, 0)
  await waitFor(() => recorder.errors.length === 1, { label: 'onError' })
  t.ok(notUnavailable(recorder.errors[0]), 'a subscription refused by the server fails for good')
  t.same(recorder.all, [])
})

t.test('a server that leaves positions out of stream reads is refused', async (t) => {
  const double = await ownDouble(t, { positionsOnStreamReads: false })
  const store = connect(t, double)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('A')], 'no_stream')
  await t.rejects(store.readStream(stream), /without its \$all position/)
})

t.test('connect() takes an EventStoreDB connection string', async (t) => {
  const store = EsdbEventStore.connect(shared.url)
  t.teardown(() => store.close())
  t.same(await store.readStream(freshStream()), [], 'default options work')
})

t.test('a subscription the server drops while staying up resubscribes without gap or duplicate', async (t) => {
  const double = await ownDouble(t)
  const store = connect(t, double)
  const stream = freshStream()
  const ours = new Set([stream])
  // No `after`: from the start of the log.
  const recorder = record(t, store, 0)
  const events = [newEvent('One'), newEvent('Two'), newEvent('Three'), newEvent('Four')]
  await appendOk(t, store, stream, events.slice(0, 1), 'no_stream')
  await waitFor(() => recorder.of(ours).length === 1, { label: 'first event' })

  double.dropSubscriptions()
  await appendOk(t, store, stream, events.slice(1, 2), 0)
  await waitFor(() => recorder.of(ours).length === 2, { label: 'event after a clean end' })

  double.dropSubscriptions(status.UNAVAILABLE)
  await appendOk(t, store, stream, events.slice(2), 1)
  await waitFor(() => recorder.of(ours).length === 4, { label: 'events after an UNAVAILABLE end' })
  t.same(recorder.of(ours).map((event) => event.id), events.map((event) => event.id))
  assertOrderedOnce(t, recorder.all, 'across drops')
  t.same(recorder.errors, [])
})

t.test('subscribe without `after` starts from the beginning of the log', async (t) => {
  const double = await ownDouble(t)
  const store = connect(t, double)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('First')], 'no_stream')
  const types: string[] = []
  const subscription = store.subscribe({ onEvents: (events) => void types.push(...events.map((event) => event.type)) })
  t.teardown(() => subscription.close())
  await waitFor(() => types.length === 1, { label: 'the first event' })
  t.same(types, ['First'])
})

t.test('recorded_at is the server’s `created` time, to the millisecond', async (t) => {
  const at = new Date('2030-01-02T03:04:05.678Z')
  const double = await ownDouble(t, { now: () => at })
  const store = connect(t, double)
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('Timed')], 'no_stream')
  t.equal((await store.readStream(stream))[0]?.recorded_at, at.toISOString())
})
