/**
 * SharedCounters against the real Redis: slices of both budgets reserved in one script call and
 * spent locally, never more than a limit in a window across instances.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { ClassLimits, countFailure, FAILURE_WINDOW_MS, type Hit, type LimitCheck } from '../../src/authorizer/rate-limits.js'
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

/** A clock the test moves: a slice's lifetime is then the test's to decide, not the machine's. */
const clock = (at = 1_000_000) => {
  const c = { at, now: () => c.at }
  return c
}

t.test('one call reserves both budgets; a refusal spends neither', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix, clock().now)
  const greedy = new ClassLimits('t:read:greedy', 's:read:stack', 2, 4)
  const sibling = new ClassLimits('t:read:sibling', 's:read:stack', 10, 4)

  const first = await counters.both(greedy)
  t.same(first, { exceeded: undefined, tokenCurrent: 1, tokenTtl: 1000, stackCurrent: 1, stackTtl: 1000 }, 'a first hit opens both windows, each for one second')
  const tokenTtl = await redis.pttl(`${prefix}t:read:greedy`)
  t.ok(tokenTtl !== -1 && tokenTtl <= 1000, `the token key expires within the window (${tokenTtl} ms)`)

  // Fresh counters on windows opened for a minute: nothing below depends on how long it takes.
  const c = clock()
  const counters2 = new SharedCounters(redis, prefix, c.now)
  await openWindow(redis, `${prefix}t:read:greedy`, 1)
  await openWindow(redis, `${prefix}s:read:stack`, 1)
  t.match(await counters2.both(greedy), { exceeded: undefined, tokenCurrent: 2, stackCurrent: 2 })
  const over = await counters2.both(greedy)
  t.match(over, { exceeded: 'token', tokenCurrent: 2, stackCurrent: 2 }, 'the third read of a budget of 2 is refused')
  t.ok(over.stackTtl > 1000 && over.stackTtl <= 60_000, "the stack's window is read, with its ttl")
  t.same([await redis.get(`${prefix}t:read:greedy`), await redis.get(`${prefix}s:read:stack`)], ['2', '2'], 'neither budget spent by the refusal')

  t.match(await counters2.both(sibling), { exceeded: undefined, tokenCurrent: 1, stackCurrent: 3 }, 'a sibling spends the stack budget')
  t.match(await counters2.both(sibling), { exceeded: undefined, stackCurrent: 4 })
  t.match(await counters2.both(sibling), { exceeded: 'stack', tokenCurrent: 2, stackCurrent: 4 }, "the stack's fifth read of 4 is refused")
  t.equal(await redis.get(`${prefix}t:read:sibling`), '2', "a stack refusal does not spend the token's budget")
})

t.test('a stack window that is absent reads as 0; a key without expiry gets one', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix, clock().now)
  await openWindow(redis, `${prefix}t:write:tok`, 1)
  const over = await counters.both(new ClassLimits('t:write:tok', 's:write:stack', 1, 10))
  t.match(over, { exceeded: 'token', tokenCurrent: 1, stackCurrent: 0, stackTtl: 0 })
  t.equal(await redis.exists(`${prefix}s:write:stack`), 0, 'reading the stack window did not create it')

  // A counter left without expiry (its PEXPIRE never ran) would otherwise refuse the token for good.
  await redis.set(`${prefix}t:write:lost`, '30')
  const lost = await counters.both(new ClassLimits('t:write:lost', 's:write:stack', 10, 10))
  t.match(lost, { exceeded: 'token', tokenCurrent: 30, tokenTtl: 1000 })
  const ttl = await redis.pttl(`${prefix}t:write:lost`)
  t.ok(ttl !== -1 && ttl <= 1000, `the key expires again (${ttl} ms)`)
})

t.test('slices: spent locally within their window, grown with demand, capped at 1/32 of the limit', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const c = clock()
  const counters = new SharedCounters(redis, prefix, c.now)
  const l = new ClassLimits('t:read:busy', 's:read:busy', 320, 640)
  await openWindow(redis, `${prefix}t:read:busy`, 0)
  await openWindow(redis, `${prefix}s:read:busy`, 0)
  const counts: number[] = []
  const reserved: string[] = []
  for (let i = 0; i < 40; i++) {
    const check = (await counters.both(l)) as LimitCheck
    counts.push(check.tokenCurrent)
    reserved.push((await redis.get(`${prefix}t:read:busy`)) as string)
  }
  t.same(counts, Array.from({ length: 40 }, (_, i) => i + 1), 'every request gets the next count of its window')
  // Slices of 1, 2, 4, 8, then 10 (320 / 32): Redis is asked once per slice, not once per request.
  t.same([...new Set(reserved)], ['1', '3', '7', '15', '25', '35', '45'], 'reserved in slices of 1, 2, 4, 8 and then the cap of 10')
  t.equal(await redis.get(`${prefix}s:read:busy`), '45', "the stack's budget is reserved with the token's")

  // The window ends (by the slice's clock): the unspent units lapse, and the next window starts
  // with a slice of what the last one spent (40), capped at 10.
  c.at += 60_000
  await redis.del(`${prefix}t:read:busy`, `${prefix}s:read:busy`)
  t.match(await counters.both(l), { exceeded: undefined, tokenCurrent: 1 })
  t.equal(await redis.get(`${prefix}t:read:busy`), '10', 'a new window: one slice of the last demand, capped')
})

t.test('a spent window is refused from memory until it ends; concurrent requests share one reservation', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const c = clock()
  const counters = new SharedCounters(redis, prefix, c.now)
  const l = new ClassLimits('t:read:many', 's:read:many', 64, 64)
  await openWindow(redis, `${prefix}t:read:many`, 0)
  await openWindow(redis, `${prefix}s:read:many`, 0)
  const watcher = new Redis(REDIS_URL)
  const monitor = await watcher.monitor()
  t.teardown(() => {
    monitor.disconnect()
    watcher.disconnect()
  })
  let scripts = 0
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (/^evalsha$|^eval$/i.test(String(args[0])) && String(args[3]) === `${prefix}t:read:many`) scripts += 1
  })
  /** Resolves once the monitor has seen every command sent before it (its own ECHO last). */
  const seen = async (word: string) => {
    const echoed = new Promise<void>((resolve) => monitor.on('monitor', (_time: string, args: string[]) => String(args[0]).toLowerCase() === 'echo' && args[1] === word && resolve()))
    await redis.echo(word)
    await echoed
  }
  const checks = (await Promise.all(Array.from({ length: 100 }, () => counters.both(l)))) as LimitCheck[]
  const allowed = checks.filter((x) => x.exceeded === undefined)
  t.equal(allowed.length, 64, 'exactly the limit admitted out of 100 concurrent requests')
  t.same(allowed.map((x) => x.tokenCurrent).sort((a, b) => a - b), Array.from({ length: 64 }, (_, i) => i + 1), 'each count once')
  t.ok(checks.filter((x) => x.exceeded === 'token').length === 36, 'the rest refused for the token')
  await seen('reserved')
  // Slices of 1, then the cap of 2 (64 / 32): 33 reservations spend the 64 units, one more learns
  // the window is spent; the other 35 refusals are answered from memory.
  t.equal(scripts, 34, 'one reservation at a time for the 100 concurrent requests')
  await redis.set(`${prefix}t:read:many`, '0', 'KEEPTTL')
  await redis.set(`${prefix}s:read:many`, '0', 'KEEPTTL')
  await seen('reset')
  const before = scripts
  t.match(await counters.both(l), { exceeded: 'token' }, 'still refused: the refusal is remembered until the window ends')
  await seen('refused')
  t.equal(scripts, before, 'without asking Redis')
  c.at += 60_001
  t.match(await counters.both(l), { exceeded: undefined }, 'after the window, Redis is asked again')
})

t.test('the reservations of one turn of the event loop go to Redis as one script call', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix, clock().now)
  // The script is loaded first (a first EVALSHA may be answered NOSCRIPT and sent again as EVAL).
  await counters.both(new ClassLimits('t:read:warm', 's:read:warm', 1, 1))
  let calls = 0
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((...args: Parameters<typeof send>) => {
    calls += 1
    return send(...args)
  }) as typeof redis.sendCommand
  // Fifty tokens of five stacks, each stack's budget 25: the pairs are served in order, so the
  // stacks' budgets are shared exactly within the one call.
  const limits = Array.from({ length: 50 }, (_, i) => new ClassLimits(`t:read:tok${i}`, `s:read:stack${i % 5}`, 100, 9))
  const checks = (await Promise.all(limits.map((l) => counters.both(l)))) as LimitCheck[]
  t.equal(calls, 1, 'one script call for the fifty reservations')
  t.equal(checks.filter((c) => c.exceeded === undefined).length, 45, "each stack admitted its 9, no more")
  t.same(checks.slice(45).map((c) => c.exceeded), ['stack', 'stack', 'stack', 'stack', 'stack'], 'the tenth of each stack is refused')
})

t.test('two instances reserving from one Redis never admit more than the limit in a window', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const second = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  t.teardown(() => second.quit())
  const c = clock()
  const a = new SharedCounters(redis, prefix, c.now)
  const b = new SharedCounters(second, prefix, c.now)
  const la = new ClassLimits('t:read:both', 's:read:both', 200, 1000)
  const lb = new ClassLimits('t:read:both', 's:read:both', 200, 1000)
  await openWindow(redis, `${prefix}t:read:both`, 0)
  await openWindow(redis, `${prefix}s:read:both`, 0)
  const run = (x: SharedCounters, l: ClassLimits) => Promise.all(Array.from({ length: 150 }, () => x.both(l))) as Promise<LimitCheck[]>
  const [ra, rb] = await Promise.all([run(a, la), run(b, lb)])
  const admitted = [...ra, ...rb].filter((x) => x.exceeded === undefined)
  t.equal(Number(await redis.get(`${prefix}t:read:both`)), 200, 'Redis granted the whole limit and no more')
  t.ok(admitted.length <= 200 && admitted.length >= 200 - 2 * (200 / 32), `admitted ${admitted.length} of 300 (limit 200; at most one slice unspent per instance)`)
  t.equal(new Set(admitted.map((x) => x.tokenCurrent)).size, admitted.length, 'no count given twice')
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
