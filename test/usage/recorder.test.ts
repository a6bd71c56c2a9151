import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { type Counted, countedAs, UsageRecorder } from '../../src/usage/recorder.js'
import { openUsage } from '../../src/usage/usage.js'
import type { TokenMinute, UsageStore } from '../../src/usage/port.js'

const T0 = Date.parse('2026-03-01T12:00:00.000Z')

const clock = () => {
  let ms = T0
  return { now: () => ms, advance: (by: number) => void (ms += by) }
}

const counts = (e: TokenMinute) => [e.allowed, e.denied, e.rate_limited, e.expired, e.revoked]

t.test('counts each outcome per token and minute, with the last allowed use and its address', async (t) => {
  const c = clock()
  const r = new UsageRecorder({ now: c.now, maxEntries: 100 })
  r.note(countedAs('blt1'), 'allowed', '10.0.0.1', false, 0)
  c.advance(1000)
  r.note(countedAs('blt1'), 'allowed', '10.0.0.2', false, 0)
  r.note(countedAs('blt1'), 'denied', '10.0.0.3', false, 0)
  r.note(countedAs('blt1'), 'rate_limited', '10.0.0.3', false, 0)
  r.note(countedAs('blt2'), 'expired', undefined, false, 0)
  r.note(countedAs('blt2'), 'revoked', undefined, false, 0)
  c.advance(60_000)
  r.note(countedAs('blt1'), 'allowed', undefined, true, 0)
  t.equal(r.size, 3, 'one entry per token and minute')
  const taken = r.take()
  t.same(
    taken.map((e) => [e.token_uid, e.minute, ...counts(e), e.lastAt, e.lastFrom, e.previousAt]),
    [
      ['blt1', T0, 2, 1, 1, 0, 0, T0 + 1000, '10.0.0.2', 0],
      ['blt2', T0, 0, 0, 0, 1, 1, 0, null, 0],
      ['blt1', T0 + 60_000, 1, 0, 0, 0, 0, T0 + 61_000, null, T0 + 61_000],
    ],
    'a denial does not move the last use; a use of the previous secret sets both',
  )
  t.equal(r.size, 0, 'take empties the aggregate')
  t.same(r.take(), [])
})

t.test('without a clock handed in, the time is the decision\'s performance.now() on the wall clock', async (t) => {
  const r = new UsageRecorder({ maxEntries: 10 })
  const before = Date.now()
  r.note(countedAs('blt1'), 'allowed', undefined, false, performance.now())
  const after = Date.now()
  const [e] = r.take()
  t.ok(e !== undefined && e.lastAt >= before - 1 && e.lastAt <= after + 1, 'within the wall-clock reads around it')
  t.equal(e?.minute, (e?.lastAt ?? 0) - ((e?.lastAt ?? 0) % 60_000))
})

t.test('the aggregate is bounded: reaching the bound asks for one early flush; addresses are never keys', async (t) => {
  const c = clock()
  let asked = 0
  const r = new UsageRecorder({ now: c.now, maxEntries: 10_000, onFull: () => (asked += 1) })
  // 100,000 distinct client addresses on 10,000 tokens: one entry per token, whatever the addresses.
  for (let i = 0; i < 100_000; i += 1) r.note(countedAs(`blt${i % 10_000}`), 'allowed', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, false, 0)
  t.equal(r.size, 10_000, 'entries: one per token in the minute, not one per address')
  t.equal(asked, 1, 'the bound asks for a flush once')
  const taken = r.take()
  t.equal(taken.length, 10_000)
  t.equal(taken[0]?.lastFrom, '10.1.95.144', "each entry keeps only its last request's address")
  r.note(countedAs('blt0'), 'allowed', undefined, false, 0)
  t.equal(r.size, 1)
})

t.test("a token's slot reaches its entry until the minute turns or a flush takes it; a slot never carries counts into another recorder", async (t) => {
  const c = clock()
  const r = new UsageRecorder({ now: c.now, maxEntries: 100 })
  const row = countedAs('blt1')
  r.note(row, 'allowed', '10.0.0.1', false, 0)
  r.note(row, 'denied', undefined, false, 0)
  t.equal(r.size, 1)
  r.note(countedAs('blt1'), 'denied', undefined, false, 0)
  t.equal(r.size, 1, 'found by uid without the slot: the same entry')
  const first = r.take()
  t.match(first, [{ token_uid: 'blt1', allowed: 1, denied: 2 }])
  r.note(row, 'denied', undefined, false, 0)
  t.match(first, [{ token_uid: 'blt1', allowed: 1, denied: 2 }], 'a taken entry is never counted into again')
  c.advance(60_000)
  r.note(row, 'expired', undefined, false, 0)
  const other = new UsageRecorder({ now: c.now, maxEntries: 100 })
  other.note(row, 'revoked', undefined, false, 0)
  const second = r.take()
  t.same(
    second.map((e) => [e.minute, e.denied, e.expired, e.revoked]),
    [
      [c.now() - 60_000 - (c.now() % 60_000), 1, 0, 0],
      [c.now() - (c.now() % 60_000), 0, 1, 0],
    ],
    'one entry per minute, the slot moved on to the new one',
  )
  t.match(other.take(), [{ token_uid: 'blt1', revoked: 1, expired: 0 }], "the other recorder's count is its own")
})

t.test('heap held by the aggregate of 10,000 tokens and 100,000 addresses stays under 5 MB', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const c = clock()
  const r = new UsageRecorder({ now: c.now, maxEntries: 20_000 })
  // As the authorizer's cached token rows: one slot per token, made before the measure.
  const uids = Array.from({ length: 10_000 }, (_, i) => countedAs(`blt${String(i).padStart(16, '0')}`))
  const addresses = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
  const settled = () => {
    for (let i = 0; i < 4; i += 1) gc()
    return process.memoryUsage().heapUsed
  }
  const before = settled()
  for (let i = 0; i < 100_000; i += 1) r.note(uids[i % 10_000] as Counted, 'allowed', addresses[i], false, 0)
  const held = settled() - before
  t.ok(held > 0 && held < 5_000_000, `aggregate holds ${held} bytes`)
  t.comment(`about ${Math.round(held / 10_000)} bytes per token entry`)
  t.equal(r.size, 10_000)
  // Keeps the inputs alive through the measure, so that only the aggregate differs.
  t.equal(uids.length + addresses.length, 110_000)
})

/** A store that records writes, and fails while `failing`. */
const memoryStore = () => {
  const written: TokenMinute[][] = []
  let failing = false
  const store: UsageStore = {
    async write(batch) {
      if (failing) throw new Error('store down (test)')
      written.push([...batch])
    },
    async buckets() {
      return []
    },
    async lastUse() {
      return new Map()
    },
    async close() {},
  }
  return { store, written, fail: (f: boolean) => void (failing = f) }
}

t.test('a flush writes what was counted once; a failed flush keeps its counts for the next one', async (t) => {
  const c = clock()
  const m = memoryStore()
  const errors: unknown[] = []
  const usage = openUsage({ store: m.store, now: c.now, flushMs: 10_000, timer: false, onError: (e) => errors.push(e) })
  usage.recorder?.note(countedAs('blt1'), 'allowed', '10.0.0.1', false, 0)
  await usage.flush()
  await usage.flush()
  t.equal(m.written.length, 1, 'an empty aggregate writes nothing')
  m.fail(true)
  usage.recorder?.note(countedAs('blt1'), 'denied', undefined, false, 0)
  await usage.flush()
  t.equal(errors.length, 1)
  m.fail(false)
  usage.recorder?.note(countedAs('blt1'), 'denied', undefined, false, 0)
  await usage.close()
  const all = m.written.flat()
  t.same(
    all.map((e) => [e.token_uid, e.allowed, e.denied]),
    [
      ['blt1', 1, 0],
      ['blt1', 0, 1],
      ['blt1', 0, 1],
    ],
    'the failed batch is written with the next; close flushes',
  )
})

t.test('USAGE_RECORDING=false: no recorder, nothing written', async (t) => {
  const m = memoryStore()
  const usage = openUsage({ store: m.store, now: Date.now, flushMs: 10_000, recording: false })
  t.equal(usage.recorder, undefined)
  await usage.close()
  t.same(m.written, [])
})
