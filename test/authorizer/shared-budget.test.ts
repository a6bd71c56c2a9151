/**
 * SharedCounters against the real Redis: both budgets of a request in one script call, with the
 * answers (and so the headers) of the two-call path it replaces.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { checkLimits, ClassLimits, countFailure, FAILURE_WINDOW_MS, flatLimitHeaders, type Hit, type LimitCheck, type LimitStore, redisStore } from '../../src/authorizer/rate-limits.js'
import { SharedCounters } from '../../src/authorizer/shared-budget.js'
import { ensureRedis, REDIS_URL } from '../support/redis.js'

await ensureRedis()

/** A client and a prefix of the test's own; every key under it is deleted at teardown. */
const redisFor = async (t: Test) => {
  const prefix = `mt-test-${randomBytes(6).toString('hex')}:`
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  return { redis, prefix }
}

/**
 * A window already open for a minute with `current` hits: the assertions below then never depend
 * on how long the test takes (a one-second window could end between two calls on a busy machine).
 */
const openWindow = (redis: Redis, key: string, current: number) => redis.set(key, String(current), 'PX', 60_000)

t.test('one call counts the token, then the stack; a token over its budget does not spend the stack', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix)
  const greedy = new ClassLimits('t:read:greedy', 's:read:stack', 2, 4)
  const sibling = new ClassLimits('t:read:sibling', 's:read:stack', 10, 4)

  const first = await counters.both(greedy)
  t.same(first, { exceeded: undefined, tokenCurrent: 1, tokenTtl: 1000, stackCurrent: 1, stackTtl: 1000 }, "a first hit opens both windows, each for one second")
  const tokenTtl = await redis.pttl(`${prefix}t:read:greedy`)
  t.ok(tokenTtl !== -1 && tokenTtl <= 1000, `the token key expires within the window (${tokenTtl} ms)`)

  await openWindow(redis, `${prefix}t:read:greedy`, 1)
  await openWindow(redis, `${prefix}s:read:stack`, 1)
  t.match(await counters.both(greedy), { exceeded: undefined, tokenCurrent: 2, stackCurrent: 2 })
  const over = await counters.both(greedy)
  t.match(over, { exceeded: 'token', tokenCurrent: 3, stackCurrent: 2 }, 'the third read of a budget of 2 is refused')
  t.ok(over.stackTtl > 1000 && over.stackTtl <= 60_000, "the stack's window is read, with its ttl")
  t.equal(await redis.get(`${prefix}s:read:stack`), '2', 'and not spent')

  t.match(await counters.both(sibling), { exceeded: undefined, tokenCurrent: 1, stackCurrent: 3 }, 'a sibling spends the stack budget')
  t.match(await counters.both(sibling), { exceeded: undefined, stackCurrent: 4 })
  t.match(await counters.both(sibling), { exceeded: 'stack', tokenCurrent: 3, stackCurrent: 5 }, "the stack's fifth read of 4 is refused")
  t.equal(await redis.get(`${prefix}t:read:sibling`), '3', "a stack refusal has spent the token's budget, as before")
})

t.test('a stack window that is absent reads as 0 with no ttl; a key without expiry gets one', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix)
  await openWindow(redis, `${prefix}t:write:tok`, 1)
  const over = await counters.both(new ClassLimits('t:write:tok', 's:write:stack', 1, 10))
  t.match(over, { exceeded: 'token', tokenCurrent: 2, stackCurrent: 0, stackTtl: 0 })
  t.equal(await redis.exists(`${prefix}s:write:stack`), 0, 'reading the stack window did not create it')

  // A counter left without expiry (its PEXPIRE never ran) would otherwise refuse the token for good.
  await redis.set(`${prefix}t:write:lost`, '30')
  const lost = await counters.both(new ClassLimits('t:write:lost', 's:write:stack', 10, 10))
  t.match(lost, { exceeded: 'token', tokenCurrent: 31, tokenTtl: 1000 })
  const ttl = await redis.pttl(`${prefix}t:write:lost`)
  t.ok(ttl !== -1 && ttl <= 1000, `the key expires again (${ttl} ms)`)
})

/** The two-call path SharedCounters replaces: @fastify/rate-limit's RedisStore, one key per call. */
const twoCalls = (redis: Redis, prefix: string): LimitStore => redisStore(redis, prefix)

t.test('the same answers and headers as two calls of RedisStore, step for step', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const one = new SharedCounters(redis, `${prefix}one:`)
  const two = twoCalls(redis, `${prefix}two:`)
  t.equal(two.both, undefined, 'RedisStore counts one key per call')
  const greedy = new ClassLimits('t:read:greedy', 's:read:stack', 2, 5)
  const sibling = new ClassLimits('t:read:sibling', 's:read:stack', 10, 5)
  const withoutTtl = (c: LimitCheck) => ({ ...c, tokenTtl: undefined, stackTtl: undefined })
  // `t=` is ceil(ttl / 1000): the two paths read their windows a moment apart, so it is compared
  // as "the window opened a minute ago" (59 or 60), the rest of each header exactly.
  const headers = (l: ClassLimits, c: LimitCheck) => flatLimitHeaders(l, c).map((h) => h.replace(/t=(59|60)\b/g, 't=MINUTE'))

  const a = (await checkLimits(one, greedy)) as LimitCheck
  const b = (await checkLimits(two, greedy)) as LimitCheck
  t.same(flatLimitHeaders(greedy, a), flatLimitHeaders(greedy, b), 'a first hit: the same headers, ttls included')
  t.same(a, b)

  for (const p of ['one:', 'two:']) {
    await openWindow(redis, `${prefix}${p}t:read:greedy`, 1)
    await openWindow(redis, `${prefix}${p}s:read:stack`, 1)
  }
  const steps = [greedy, greedy, greedy, sibling, sibling, sibling, sibling, greedy]
  const seen: string[] = []
  for (const l of steps) {
    const x = (await checkLimits(one, l)) as LimitCheck
    const y = (await checkLimits(two, l)) as LimitCheck
    t.same(withoutTtl(x), withoutTtl(y), `${l.tokenKey}: ${x.exceeded ?? 'allowed'}`)
    t.same(headers(l, x), headers(l, y))
    t.notMatch(headers(l, x).join('\n'), /t=(?!MINUTE|1\b)/, 'every window is the one opened')
    seen.push(x.exceeded ?? 'allowed')
  }
  t.same(seen, ['allowed', 'token', 'token', 'allowed', 'allowed', 'allowed', 'stack', 'token'], 'both budgets were crossed on the way')
})

t.test('one key at a time (failed authentications) goes through the same client and prefix', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix)
  t.same([(await countFailure(counters, '203.0.113.7', 2)).throttled, (await countFailure(counters, '203.0.113.7', 2)).throttled, (await countFailure(counters, '203.0.113.7', 2)).throttled], [false, false, true], 'the third failure of a limit of 2 is throttled')
  t.equal(await redis.get(`${prefix}f:203.0.113.7`), '3')
  const read = await new Promise<Hit | undefined>((resolve, reject) => counters.read('f:203.0.113.7', (e, hit) => (e ? reject(e) : resolve(hit)), FAILURE_WINDOW_MS, 2))
  t.equal(read?.current, 3, 'read without counting')
  t.equal(await redis.get(`${prefix}f:203.0.113.7`), '3')
})
