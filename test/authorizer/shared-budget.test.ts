/**
 * SharedCounters against the real Redis: slices of both budgets reserved in one script call and
 * spent locally, the next window's reserved ahead, never more than a limit in a window across
 * instances. Windows follow the test's clock, so nothing depends on how long a step takes.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { ClassLimits, countFailure, FAILURE_WINDOW_MS, type Hit, type LimitCheck } from '../../src/authorizer/rate-limits.js'
import { AHEAD_MS } from '../../src/authorizer/ahead.js'
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

/** A clock the test moves, at the start of window 1000, and the reservations ahead it holds back. */
const clock = (at = 1_000_000) => {
  const c = {
    at,
    now: () => c.at,
    timers: [] as Array<{ delay: number; run: () => void }>,
    after: (delay: number, run: () => void) => void c.timers.push({ delay, run }),
  }
  return c
}
const W = 1000

/** Counts the script calls a client sends. */
const countCalls = (redis: Redis) => {
  const n = { calls: 0 }
  const send = redis.sendCommand.bind(redis)
  redis.sendCommand = ((...args: Parameters<typeof send>) => {
    n.calls += 1
    return send(...args)
  }) as typeof redis.sendCommand
  return n
}

t.test('one call reserves both budgets; a refusal spends neither', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const c = clock()
  const counters = new SharedCounters(redis, prefix, c)
  const greedy = new ClassLimits('t:read:greedy', 's:read:stack', 2, 4)
  const sibling = new ClassLimits('t:read:sibling', 's:read:stack', 10, 4)
  const key = counters.windowKey(W)

  t.same(await counters.both(greedy), { exceeded: undefined, tokenCurrent: 1, tokenTtl: 1000, stackCurrent: 1, stackTtl: 1000 }, 'the first hit of a window, with the whole window left')
  const ttl = await redis.pttl(key)
  t.ok(ttl > 1000 && ttl <= 2000, `the window's hash outlives the window by at most one more (${ttl} ms)`)
  c.at += 250
  t.match(await counters.both(greedy), { exceeded: undefined, tokenCurrent: 2, stackCurrent: 2, tokenTtl: 750 }, 'the ttl is what is left of the clock-aligned window')
  const over = await counters.both(greedy)
  t.match(over, { exceeded: 'token', tokenCurrent: 2, stackCurrent: 2, stackTtl: 750 }, 'the third read of a budget of 2 is refused')
  t.same(await redis.hmget(key, 't:read:greedy', 's:read:stack'), ['2', '2'], 'neither budget spent by the refusal')

  t.match(await counters.both(sibling), { exceeded: undefined, tokenCurrent: 1, stackCurrent: 3 }, 'a sibling spends the stack budget')
  t.match(await counters.both(sibling), { exceeded: undefined, stackCurrent: 4 })
  t.match(await counters.both(sibling), { exceeded: 'stack', tokenCurrent: 2, stackCurrent: 4 }, "the stack's fifth read of 4 is refused")
  t.equal(await redis.hget(key, 't:read:sibling'), '2', "a stack refusal does not spend the token's budget")

  c.at += 750
  t.match(await counters.both(greedy), { exceeded: undefined, tokenCurrent: 1, tokenTtl: 1000 }, 'the next window starts at the clock, with its own count')
  t.equal(await redis.hget(counters.windowKey(W + 1), 't:read:greedy'), '1')
})

t.test('slices: spent locally within their window, grown with demand, capped at 1/32 of the limit', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const c = clock()
  const counters = new SharedCounters(redis, prefix, c)
  const l = new ClassLimits('t:read:busy', 's:read:busy', 320, 640)
  const counts: number[] = []
  const reserved: string[] = []
  for (let i = 0; i < 40; i++) {
    const check = (await counters.both(l)) as LimitCheck
    counts.push(check.tokenCurrent)
    reserved.push((await redis.hget(counters.windowKey(W), 't:read:busy')) as string)
  }
  t.same(counts, Array.from({ length: 40 }, (_, i) => i + 1), 'every request gets the next count of its window')
  // Slices of 1, 2, 4, 8, then 10 (320 / 32): Redis is asked once per slice, not once per request.
  t.same([...new Set(reserved)], ['1', '3', '7', '15', '25', '35', '45'], 'reserved in slices of 1, 2, 4, 8 and then the cap of 10')
  t.equal(await redis.hget(counters.windowKey(W), 's:read:busy'), '45', "the stack's budget is reserved with the token's")

  // Without the reservation ahead, a later window starts with a slice of what the last one spent.
  c.at += W
  t.match(await counters.both(l), { exceeded: undefined, tokenCurrent: 1 })
  t.equal(await redis.hget(counters.windowKey(W + 1), 't:read:busy'), '10', 'a new window: one slice of the last demand, capped')
})

t.test("ahead of a window's end, the next window's slices are reserved: its first requests wait for nothing", async (t) => {
  const { redis, prefix } = await redisFor(t)
  const c = clock()
  const counters = new SharedCounters(redis, prefix, c)
  const tokens = Array.from({ length: 3 }, (_, i) => new ClassLimits(`t:read:steady${i}`, 's:read:steady', 320, 1000))
  for (const l of tokens) for (let i = 0; i < 3; i++) await counters.both(l)
  t.equal(c.timers.length, 1, 'one reservation ahead armed for the window, not one per token')
  t.equal(c.timers[0]?.delay, W - AHEAD_MS, `armed ${AHEAD_MS} ms before the window ends`)
  const calls = countCalls(redis)
  c.at += W - AHEAD_MS
  c.timers.shift()?.run()
  await redis.echo('settled')
  t.equal(calls.calls, 2, 'the three tokens reserved in one script call (the echo is the other)')
  t.equal(await redis.hget(counters.windowKey(W + 1), 't:read:steady0'), '6', 'a slice of twice what the token spent in the window, both budgets being less than half spent')
  t.equal(await redis.hget(counters.windowKey(W + 1), 's:read:steady'), '18', "and of its stack's budget")

  c.at += AHEAD_MS
  const before = calls.calls
  const first = counters.both(tokens[2] as ClassLimits)
  t.notOk(first instanceof Promise, 'the first request of the next window is answered at once')
  t.match(first, { exceeded: undefined, tokenCurrent: 1, stackCurrent: 13, tokenTtl: W }, "the third token's slice counted after its siblings' in the stack's budget")
  t.equal(calls.calls, before, 'without asking Redis')
  t.equal(c.timers.length, 1, 'and the window after it is armed in turn')
})

t.test('a spent window is refused from memory until it ends; concurrent requests share one reservation', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const c = clock()
  const counters = new SharedCounters(redis, prefix, c)
  const l = new ClassLimits('t:read:many', 's:read:many', 64, 64)
  await counters.both(new ClassLimits('t:read:warm', 's:read:warm', 1, 1))
  const calls = countCalls(redis)
  const checks = (await Promise.all(Array.from({ length: 100 }, () => counters.both(l)))) as LimitCheck[]
  const allowed = checks.filter((x) => x.exceeded === undefined)
  t.equal(allowed.length, 64, 'exactly the limit admitted out of 100 concurrent requests')
  t.same(allowed.map((x) => x.tokenCurrent).sort((a, b) => a - b), Array.from({ length: 64 }, (_, i) => i + 1), 'each count once')
  t.equal(checks.filter((x) => x.exceeded === 'token').length, 36, 'the rest refused for the token')
  // Slices of 1, then the cap of 2 (64 / 32): 33 reservations spend the 64 units, one more learns
  // the window is spent; the other 35 refusals are answered from memory.
  t.equal(calls.calls, 34, 'one reservation at a time for the 100 concurrent requests')
  const refused = counters.both(l)
  t.notOk(refused instanceof Promise, 'a later request is refused at once')
  t.match(refused, { exceeded: 'token' }, 'still refused: the refusal is remembered until the window ends')
  t.equal(calls.calls, 34, 'without asking Redis')
  c.at += W
  t.match(await counters.both(l), { exceeded: undefined }, 'after the window, Redis is asked again')
  t.equal(calls.calls, 35)
})

t.test('the reservations of one turn of the event loop go to Redis as one script call', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const counters = new SharedCounters(redis, prefix, clock())
  // The script is loaded first (a first EVALSHA may be answered NOSCRIPT and sent again as EVAL).
  await counters.both(new ClassLimits('t:read:warm', 's:read:warm', 1, 1))
  const calls = countCalls(redis)
  // Fifty tokens of five stacks, each stack's budget 9: the pairs are served in order, so the
  // stacks' budgets are shared exactly within the one call.
  const limits = Array.from({ length: 50 }, (_, i) => new ClassLimits(`t:read:tok${i}`, `s:read:stack${i % 5}`, 100, 9))
  const checks = (await Promise.all(limits.map((l) => counters.both(l)))) as LimitCheck[]
  t.equal(calls.calls, 1, 'one script call for the fifty reservations')
  t.equal(checks.filter((c) => c.exceeded === undefined).length, 45, 'each stack admitted its 9, no more')
  t.same(checks.slice(45).map((c) => c.exceeded), ['stack', 'stack', 'stack', 'stack', 'stack'], 'the tenth of each stack is refused')
  t.same(await redis.hmget(counters.windowKey(W), 's:read:stack0', 't:read:tok45'), ['9', '0'], 'a refused pair counted nothing')
})

t.test('two instances reserving from one Redis never admit more than the limit in a window', async (t) => {
  const { redis, prefix } = await redisFor(t)
  const second = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  t.teardown(() => second.quit())
  const c = clock()
  const a = new SharedCounters(redis, prefix, c)
  const b = new SharedCounters(second, prefix, c)
  const la = new ClassLimits('t:read:both', 's:read:both', 200, 1000)
  const lb = new ClassLimits('t:read:both', 's:read:both', 200, 1000)
  const run = (x: SharedCounters, l: ClassLimits) => Promise.all(Array.from({ length: 150 }, () => x.both(l))) as Promise<LimitCheck[]>
  const [ra, rb] = await Promise.all([run(a, la), run(b, lb)])
  const admitted = [...ra, ...rb].filter((x) => x.exceeded === undefined)
  t.equal(Number(await redis.hget(a.windowKey(W), 't:read:both')), 200, 'Redis granted the whole limit and no more')
  t.ok(admitted.length <= 200 && admitted.length >= 200 - 2 * (200 / 32), `admitted ${admitted.length} of 300 (limit 200; at most one slice unspent per instance)`)
  t.equal(new Set(admitted.map((x) => x.tokenCurrent)).size, admitted.length, 'no count given twice')
  // Both reserve the next window ahead; with the rest of the limit taken by a, b's ahead slice and
  // a's together still never pass it.
  c.at += W - AHEAD_MS
  for (const timer of c.timers.splice(0)) timer.run()
  await Promise.all([redis.echo('a'), second.echo('b')])
  const ahead = Number(await redis.hget(a.windowKey(W + 1), 't:read:both'))
  t.ok(ahead > 0 && ahead <= 2 * (200 / 32), `the next window holds only the two slices reserved ahead (${ahead})`)
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
