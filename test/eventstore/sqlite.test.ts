import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mock } from 'node:test'
import t, { type Test } from 'tap'
import { STREAM_BUCKETS } from '../../src/eventstore/port.js'
import { SqliteEventStore, type SqliteEventStoreOptions } from '../../src/eventstore/sqlite.js'
import { appendOk, collectAll, eventStoreContract, freshStream, newEvent, record } from '../support/event-store-contract.js'
import { waitFor } from '../support/wait-for.js'

/** A temp directory for this test, removed in teardown. */
const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-sqlite-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// A small page size so that reads and subscriptions cross page boundaries.
const options: SqliteEventStoreOptions = { pageSize: 2, pollIntervalMs: 10 }

eventStoreContract(t, 'SqliteEventStore', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-sqlite-'))
  return {
    store: new SqliteEventStore(join(dir, 'nested', 'events.db'), options),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  }
})

t.test('two stores on the same file see each other’s appends through subscriptions', async (t) => {
  const file = join(tempDir(t), 'events.db')
  const writer = new SqliteEventStore(file, options)
  const reader = new SqliteEventStore(file, options)
  t.teardown(async () => {
    await writer.close()
    await reader.close()
  })
  const stream = freshStream()
  const ours = new Set([stream])
  const readerSide = record(t, reader, 0)
  const writerSide = record(t, writer, 0)

  await appendOk(t, writer, stream, [newEvent('FromWriter')], 'no_stream')
  await waitFor(() => readerSide.of(ours).length === 1, { label: 'reader sees the writer’s append' })
  await appendOk(t, reader, stream, [newEvent('FromReader')], 0)
  await waitFor(() => writerSide.of(ours).length === 2, { label: 'writer sees the reader’s append' })

  await waitFor(() => readerSide.of(ours).length === 2, { label: 'reader sees its own append' })
  t.same(
    writerSide.of(ours).map((event) => event.type),
    ['FromWriter', 'FromReader'],
  )
  t.same(await reader.readStream(stream), await writer.readStream(stream), 'one log')
  t.same(
    await writer.append(stream, [newEvent('Stale')], 0),
    { _tag: 'Left', left: { kind: 'version-conflict', stream, expected: 0, actual: 1 } },
    'the expected-revision check holds across instances',
  )
})

t.test('an in-memory store with a fixed clock records that time', async (t) => {
  const at = new Date('2030-01-02T03:04:05.678Z')
  const store = new SqliteEventStore(':memory:', { now: () => at })
  t.teardown(() => store.close())
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('Timed')], 'no_stream')
  t.equal((await store.readStream(stream))[0]?.recorded_at, at.toISOString())
})

t.test('default options poll for other writers and subscribe from the start', async (t) => {
  const file = join(tempDir(t), 'events.db')
  const store = new SqliteEventStore(file)
  const other = new SqliteEventStore(file)
  t.teardown(async () => {
    await store.close()
    await other.close()
  })
  const stream = freshStream()
  await appendOk(t, other, stream, [newEvent('First')], 'no_stream')
  const events: string[] = []
  const subscription = store.subscribe({ onEvents: (batch) => void events.push(...batch.map((event) => event.type)) })
  t.teardown(() => subscription.close())
  await appendOk(t, other, stream, [newEvent('Second')], 0)
  await waitFor(() => events.length === 2, { label: 'both events' })
  t.same(events, ['First', 'Second'])
})

t.test('readAll without options reads the whole log', async (t) => {
  const store = new SqliteEventStore(':memory:')
  t.teardown(() => store.close())
  const a = freshStream()
  const b = freshStream()
  await appendOk(t, store, a, [newEvent('A')], 'no_stream')
  await appendOk(t, store, b, [newEvent('B')], 'no_stream')
  t.same((await collectAll(store.readAll())).map((event) => [event.stream, event.position]), [[a, 1], [b, 2]])
})

t.test('closing the store ends its subscriptions: no poll on the closed database, no onError', async (t) => {
  // Fake interval timers make "the next poll" happen exactly when the test says so.
  mock.timers.enable({ apis: ['setInterval'] })
  t.teardown(() => mock.timers.reset())
  const store = new SqliteEventStore(':memory:', { pollIntervalMs: 10 })
  const errors: unknown[] = []
  let caughtUp = 0
  store.subscribe({ onEvents: () => undefined, onCaughtUp: () => void (caughtUp += 1), onError: (error) => void errors.push(error) })
  await waitFor(() => caughtUp > 0, { label: 'first drain' })
  await store.close()
  mock.timers.tick(100)
  await new Promise((resolve) => setImmediate(resolve))
  t.same(errors, [])
})

t.test('a catch-up of many pages lets the event loop run between pages (a server can listen meanwhile)', async (t) => {
  const store = new SqliteEventStore(':memory:', { pageSize: 2, pollIntervalMs: 60_000 })
  t.teardown(() => store.close())
  store.appendBatchSync([{ stream: freshStream(), events: ['E1', 'E2', 'E3', 'E4', 'E5'].map((type) => newEvent(type)), expected: 'no_stream' }])
  const seen: string[] = []
  let caughtUp = false
  // A synchronous handler, as the projector's and the reactor's are.
  const subscription = store.subscribe({ onEvents: (events) => void seen.push(events.map((e) => e.type).join('+')), onCaughtUp: () => void (caughtUp = true) })
  t.teardown(() => subscription.close())
  setImmediate(() => seen.push('event loop'))
  await waitFor(() => caughtUp, { label: 'caught up' })
  t.same(seen, ['E1+E2', 'event loop', 'E3+E4', 'E5'], 'a full page is followed by a turn of the event loop; the last, short page is not')
})

t.test('appendBatchSync writes many appends all or none', async (t) => {
  const store = new SqliteEventStore(':memory:')
  t.teardown(() => store.close())
  const a = freshStream()
  const b = freshStream()
  const appended: string[] = []
  const subscription = store.subscribe({ onEvents: (events) => void appended.push(...events.map((event) => event.type)) })
  t.teardown(() => subscription.close())

  const ok = store.appendBatchSync([
    { stream: a, events: [newEvent('A1'), newEvent('A2')], expected: 'no_stream' },
    { stream: b, events: [newEvent('B1')], expected: 'no_stream' },
  ])
  t.same(ok, { _tag: 'Right', right: { revision: 0, position: 3 } }, 'the result of the last append')
  await waitFor(() => appended.length === 3, { label: 'subscribers hear of the batch' })

  const conflict = store.appendBatchSync([
    { stream: a, events: [newEvent('A3')], expected: 1 },
    { stream: b, events: [newEvent('B2')], expected: 'no_stream' },
  ])
  t.same(conflict, { _tag: 'Left', left: { kind: 'version-conflict', stream: b, expected: 'no_stream', actual: 0 } })
  t.equal((await store.readStream(a)).length, 2, 'the first append of a refused batch is rolled back')

  const duplicate = newEvent('Dup')
  t.throws(
    () => store.appendBatchSync([{ stream: a, events: [duplicate, duplicate], expected: 1 }]),
    /UNIQUE/,
    'other failures are thrown',
  )
  t.same(store.appendBatchSync([]), { _tag: 'Right', right: { revision: -1, position: 0 } }, 'an empty batch writes nothing')
  t.equal((await collectAll(store.readAll())).length, 3)
})

t.test('readRawPage returns unparsed rows after a position', async (t) => {
  const store = new SqliteEventStore(':memory:')
  t.teardown(() => store.close())
  const stream = freshStream()
  await appendOk(t, store, stream, [newEvent('A', { n: 1 }), newEvent('B', { n: 2 }), newEvent('C', { n: 3 })], 'no_stream')
  const page = store.readRawPage(1, 1)
  t.equal(page.length, 1)
  t.match(page[0], { position: 2, stream, revision: 1, type: 'B', data: '{"n":2}' })
})

t.test('the embedded store is its own EmbeddedLog: its file, its connection, raw rows and bulk appends', async (t) => {
  const file = join(tempDir(t), 'events.db')
  const store = new SqliteEventStore(file, options)
  const memory = new SqliteEventStore(':memory:')
  t.teardown(async () => {
    await store.close()
    await memory.close()
  })
  const log = store.embedded
  t.equal(log.file, file, 'a file another thread can open')
  t.equal(memory.embedded.file, undefined, 'an in-memory store has none')
  const [a, b] = [freshStream(), freshStream()]
  const appended = log.appendBatchSync([
    { stream: a, events: [newEvent('One'), newEvent('Two')], expected: 'no_stream' },
    { stream: b, events: [newEvent('Three')], expected: 'no_stream' },
  ])
  t.same(appended, { _tag: 'Right', right: { revision: 0, position: 3 } }, 'one transaction, the last append reported')
  t.equal(log.headPosition(), 3)
  t.same(log.readRawPage(1, 10).map((r) => [r.position, r.type, typeof r.data]), [[2, 'Two', 'string'], [3, 'Three', 'string']], 'unparsed rows after a position')
  t.same(log.readRawShare(0, 3, 0, STREAM_BUCKETS - 1).map((r) => r[0]), [1, 2, 3], 'every bucket: every row')
  t.equal(log.connection.prepare('SELECT COUNT(*) AS n FROM events').pluck().get(), 3, 'the store’s own connection')
  const conflict = log.appendBatchSync([
    { stream: freshStream(), events: [newEvent('Lost')], expected: 'no_stream' },
    { stream: a, events: [newEvent('Stale')], expected: 0 },
  ])
  t.match(conflict, { _tag: 'Left', left: { kind: 'version-conflict', stream: a } })
  t.equal(log.headPosition(), 3, 'a conflict anywhere appends nothing of the batch')
})
