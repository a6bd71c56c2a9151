/**
 * The instance registry's adapters: an entry lives for the time to live after its last publish,
 * then is not waited for. The SQLite adapter is driven by a fake clock; the Redis adapter's TTL is
 * Redis's own, so it is checked on a real server with a short TTL.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import t from 'tap'
import { liveAt } from '../../src/propagation/registry.js'
import { redisRegistry } from '../../src/propagation/redis-registry.js'
import { sqliteRegistry } from '../../src/propagation/sqlite-registry.js'
import { ensureRedis, REDIS_URL } from '../support/redis.js'
import { waitFor } from '../support/wait-for.js'

t.test('liveAt keeps the entries refreshed less than the time to live ago', async (t) => {
  const entries = [
    { id: 'fresh', position: 3, seenAt: 10_000 },
    { id: 'edge', position: 2, seenAt: 5_001 },
    { id: 'expired', position: 1, seenAt: 5_000 },
  ]
  t.same(liveAt(entries, 10_000, 5_000), [
    { id: 'fresh', position: 3 },
    { id: 'edge', position: 2 },
  ])
  t.same(liveAt(entries, 4_000, 5_000).length, 3, 'an entry stamped ahead of the reader (its clock) is live')
})

t.test('SQLite registry: entries expire by the clock, a publish refreshes, close removes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-registry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let now = 1_000_000
  const clock = () => now
  const file = join(dir, 'instances.db')
  const a = sqliteRegistry(file, clock, 5000)
  const b = sqliteRegistry(file, clock, 5000)
  await a.publish({ id: 'a', position: 10 })
  await b.publish({ id: 'b', position: 7 })
  const sorted = async () => [...(await a.live())].sort((x, y) => x.id.localeCompare(y.id))
  t.same(await sorted(), [{ id: 'a', position: 10 }, { id: 'b', position: 7 }], 'each instance sees both entries')

  now += 4000
  await b.publish({ id: 'b', position: 12 })
  now += 1000
  t.same(await sorted(), [{ id: 'b', position: 12 }], "a's entry, 5 s old, has expired; b's was refreshed")
  now += 3999
  t.same(await sorted(), [{ id: 'b', position: 12 }])
  now += 1
  t.same(await sorted(), [], 'b not refreshed for 5 s: gone too')

  await a.publish({ id: 'a', position: 13 })
  t.same(await sorted(), [{ id: 'a', position: 13 }], 'a publish brings an instance back')
  await a.close('a')
  t.same(await b.live(), [], 'a clean shutdown removes the entry at once')
  await b.close('b')
})

t.test('Redis registry: a key not refreshed expires, and its instance is no longer listed', async (t) => {
  await ensureRedis()
  const store = randomBytes(6).toString('hex')
  const ofStore = async () => store
  const prefix = 'mt-prop-test:'
  const a = redisRegistry(REDIS_URL, ofStore, prefix, 300)
  const b = redisRegistry(REDIS_URL, ofStore, prefix, 60_000)
  t.teardown(async () => {
    await b.close('b')
  })
  await a.publish({ id: 'a', position: 4 })
  await b.publish({ id: 'b', position: 9 })
  t.same([...(await b.live())].sort((x, y) => x.id.localeCompare(y.id)), [{ id: 'a', position: 4 }, { id: 'b', position: 9 }])
  await a.close('a')
  t.same(await b.live(), [{ id: 'b', position: 9 }], 'close removes the entry at once')

  const c = redisRegistry(REDIS_URL, ofStore, prefix, 200)
  await c.publish({ id: 'c', position: 1 })
  t.equal((await b.live()).length, 2)
  // The TTL is Redis's: nothing refreshes c, so its key expires and the next read drops it.
  await waitFor(async () => (await b.live()).length === 1, { label: "c's key expired", intervalMs: 50 })
  t.same(await b.live(), [{ id: 'b', position: 9 }])
  await c.close('c')
})

t.test('SQLite registry: a publish that finds the file locked tries again on a timer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-registry-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'instances.db')
  const registry = sqliteRegistry(file)
  await registry.publish({ id: 'a', position: 1 })
  // Another connection holds the write lock, as another instance's heartbeat would for a moment.
  const other = new Database(file)
  other.exec('BEGIN IMMEDIATE')
  let settled = false
  const publishing = registry.publish({ id: 'a', position: 2 }).finally(() => {
    settled = true
  })
  await Promise.resolve()
  t.notOk(settled, 'the first attempt found the file locked; the next waits on a timer, and this test runs meanwhile')
  other.exec('COMMIT')
  other.close()
  await publishing
  t.same(await registry.live(), [{ id: 'a', position: 2 }])
  await registry.close('a')
})

t.test('Redis registry: instances of another event store are not listed; an empty store publishes nothing', async (t) => {
  await ensureRedis()
  const mine = randomBytes(6).toString('hex')
  const a = redisRegistry(REDIS_URL, async () => mine)
  const other = redisRegistry(REDIS_URL, async () => randomBytes(6).toString('hex'))
  let first: string | undefined
  const empty = redisRegistry(REDIS_URL, async () => first)
  t.teardown(async () => {
    await Promise.all([a.close('a'), other.close('x'), empty.close('e')])
  })
  await a.publish({ id: 'a', position: 3 })
  await other.publish({ id: 'x', position: 9 })
  await empty.publish({ id: 'e', position: 0 })
  t.same(await a.live(), [{ id: 'a', position: 3 }], 'only the instances of its own store')
  t.same(await empty.live(), [], 'a store with no event yet: nobody to wait for')
  first = mine
  await empty.publish({ id: 'e', position: 3 })
  t.equal((await a.live()).length, 2, 'once the store has its first event, the instance joins the others on it')
})
