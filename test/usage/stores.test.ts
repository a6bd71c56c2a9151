import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import type { TokenMinute, UsageStore } from '../../src/usage/port.js'
import { redisUsageStore } from '../../src/usage/redis-store.js'
import { sqliteUsageStore } from '../../src/usage/sqlite-store.js'
import { tempDir } from '../support/app.js'
import { ensureRedis, REDIS_URL } from '../support/redis.js'

const T0 = Date.parse('2026-03-01T12:00:00.000Z')
const MIN = 60_000
const HOUR = 3_600_000

const entry = (token_uid: string, minute: number, c: Partial<TokenMinute> = {}): TokenMinute => ({
  token_uid,
  minute,
  allowed: 0,
  denied: 0,
  rate_limited: 0,
  expired: 0,
  revoked: 0,
  lastAt: 0,
  lastFrom: null,
  previousAt: 0,
  ...c,
})

/** Two handles on one store, as two instances have. */
type Pair = { one: UsageStore; two: UsageStore }

const contract = (name: string, open: (t: Test) => Promise<Pair>) =>
  t.test(name, async (t) => {
    t.test('writes add up across instances, into minute and hour buckets', async (t) => {
      const { one, two } = await open(t)
      await one.write([entry('bltA', T0, { allowed: 3, denied: 1 }), entry('bltB', T0 + MIN, { expired: 2 })])
      await two.write([entry('bltA', T0, { allowed: 2, rate_limited: 4 }), entry('bltA', T0 + HOUR, { revoked: 1 })])
      t.same(await two.buckets('minute', ['bltA'], T0, T0 + 2 * HOUR), [
        { token_uid: 'bltA', at: T0, allowed: 5, denied: 1, rate_limited: 4, expired: 0, revoked: 0 },
        { token_uid: 'bltA', at: T0 + HOUR, allowed: 0, denied: 0, rate_limited: 0, expired: 0, revoked: 1 },
      ])
      const hours = await one.buckets('hour', ['bltA', 'bltB'], T0, T0 + 2 * HOUR)
      t.same(
        new Set(hours.map((h) => JSON.stringify(h))),
        new Set(
          [
            { token_uid: 'bltA', at: T0, allowed: 5, denied: 1, rate_limited: 4, expired: 0, revoked: 0 },
            { token_uid: 'bltA', at: T0 + HOUR, allowed: 0, denied: 0, rate_limited: 0, expired: 0, revoked: 1 },
            { token_uid: 'bltB', at: T0, allowed: 0, denied: 0, rate_limited: 0, expired: 2, revoked: 0 },
          ].map((h) => JSON.stringify(h)),
        ),
      )
      t.same(await one.buckets('minute', ['bltA'], T0 + MIN, T0 + HOUR), [], 'only buckets starting in [from, to)')
    })

    t.test('last use keeps the latest time and its address, whichever instance writes last', async (t) => {
      const { one, two } = await open(t)
      await one.write([entry('bltA', T0, { allowed: 1, lastAt: T0 + 50_000, lastFrom: '10.0.0.2' })])
      await two.write([entry('bltA', T0, { allowed: 1, lastAt: T0 + 10_000, lastFrom: '10.0.0.1', previousAt: T0 + 10_000 })])
      await two.write([entry('bltB', T0, { denied: 1 })])
      const uses = await two.lastUse(['bltA', 'bltB', 'bltC'])
      t.same(uses.get('bltA'), { at: T0 + 50_000, from: '10.0.0.2', previousAt: T0 + 10_000 }, 'an earlier time never overwrites a later one')
      t.notOk(uses.has('bltB'), 'denials are no use')
      t.notOk(uses.has('bltC'))
      await one.write([entry('bltA', T0 + MIN, { allowed: 1, lastAt: T0 + 70_000, lastFrom: null })])
      t.same((await one.lastUse(['bltA'])).get('bltA'), { at: T0 + 70_000, from: null, previousAt: T0 + 10_000 }, 'no trusted address: null')
    })
  })

contract('SQLite (usage.db)', async (t) => {
  const file = join(tempDir(t), 'usage.db')
  const one = sqliteUsageStore(file, 90, () => T0)
  const two = sqliteUsageStore(file, 90, () => T0)
  t.teardown(async () => {
    await one.close()
    await two.close()
  })
  return { one, two }
})

contract('Redis', async (t) => {
  await ensureRedis()
  const prefix = `mt-usage-test:${randomBytes(6).toString('hex')}:`
  const redis = new Redis(REDIS_URL)
  const one = redisUsageStore(REDIS_URL, 90, prefix)
  const two = redisUsageStore(REDIS_URL, 90, prefix)
  t.teardown(async () => {
    await one.close()
    await two.close()
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  return { one, two }
})

t.test('Redis: minute buckets expire after 48 hours and a bit, hour buckets after the retention', async (t) => {
  await ensureRedis()
  const prefix = `mt-usage-test:${randomBytes(6).toString('hex')}:`
  const redis = new Redis(REDIS_URL)
  const store = redisUsageStore(redis, 7, prefix)
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  await store.write([entry('bltA', T0, { allowed: 1, lastAt: T0 })])
  const minuteTtl = await redis.pttl(`${prefix}m:${T0}`)
  const hourTtl = await redis.pttl(`${prefix}h:${T0}`)
  t.ok(minuteTtl > 48 * HOUR && minuteTtl <= 49 * HOUR, `minute bucket ttl ${minuteTtl}`)
  t.ok(hourTtl > 7 * 24 * HOUR && hourTtl <= 8 * 24 * HOUR, `hour bucket ttl ${hourTtl}`)
  const fields = await redis.hkeys(`${prefix}m:${T0}`)
  t.same(fields, ['bltA:allowed'], 'fields name tokens by uid and outcome only')
})

t.test('SQLite: buckets past their retention are deleted by a later flush', async (t) => {
  let now = T0
  const file = join(tempDir(t), 'usage.db')
  const store = sqliteUsageStore(file, 3, () => now)
  t.teardown(() => store.close())
  await store.write([entry('bltA', T0, { allowed: 1 })])
  now = T0 + 49 * HOUR
  await store.write([entry('bltA', now - (now % MIN), { allowed: 1 })])
  t.same((await store.buckets('minute', ['bltA'], 0, now + MIN)).map((b) => b.at), [now - (now % MIN)], 'the first minute bucket is gone after 48 hours')
  t.equal((await store.buckets('hour', ['bltA'], 0, now + MIN)).length, 2, 'its hour stays')
  now = T0 + 4 * 24 * HOUR
  await store.write([entry('bltA', now, { allowed: 1 })])
  t.same((await store.buckets('hour', ['bltA'], 0, now + MIN)).map((b) => b.at), [T0 + 49 * HOUR, now], 'the hour 4 days old is gone, the one 47 hours old kept')
})
