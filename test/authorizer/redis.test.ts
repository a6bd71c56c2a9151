import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { createAuthorizer, type Decision } from '../../src/authorizer/decide.js'
import { denialAnswer } from '../../src/authorizer/denial.js'
import { appOver } from '../support/app-over.js'
import { authorizerFixture, fakeWallClock, input, newSecret } from '../support/authorizer-fixtures.js'
import { ensureRedis, REDIS_URL } from '../support/redis.js'

await ensureRedis()

/** A client for the test itself; deletes every key under `prefix` at teardown. */
const redisFor = async (t: Test, prefix: string) => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    await redis.quit()
  })
  t.equal(await redis.ping(), 'PONG', 'Redis at 127.0.0.1:6379 answers')
  return redis
}

t.test('two authorizers on two instances share one budget in Redis', async (t) => {
  const prefix = `mt-test-${randomBytes(6).toString('hex')}:`
  const redis = await redisFor(t, prefix)
  const f = await authorizerFixture(t, { planReadLimit: 4, planWriteLimit: 2, authFailureLimit: 2 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const b = await f.secondInstance()
  // One window (a frozen wall clock) for the whole burst, and nothing reserved ahead of the next.
  const wall = fakeWallClock(t)
  const one = createAuthorizer(f.deps, { redis, keyPrefix: prefix, ahead: () => {} })
  const two = createAuthorizer(b.deps, { redis, keyPrefix: prefix, ahead: () => {} })
  const read = (a: typeof one) => a.authorize(input({ apiKey, authorization: tok.secret }))

  const results: Decision[] = []
  for (const a of [one, two, one, two, one]) {
    const d = read(a)
    t.ok(d instanceof Promise, 'Redis counters answer asynchronously')
    results.push(await d)
  }
  t.same(results.map((d) => d.allowed), [true, true, true, true, false], 'the 5th read across both instances is refused')
  t.same(results.map((d) => (d.allowed ? d.headers : denialAnswer(d).headerRecord())['x-ratelimit-remaining']), ['3', '2', '1', '0', '0'])
  const window = `${prefix}w:${Math.floor(wall.now / 1000)}`
  t.equal(await redis.hget(window, `t:read:${tok.uid}`), '4', "the token's count lives in the window's hash under the prefix; the refused read spent nothing")
  t.equal(await redis.hget(window, `s:read:${apiKey}`), '4', 'the refused read did not spend the stack budget')
  const pttl = await redis.pttl(window)
  t.ok(pttl > 1000 && pttl <= 2000, `the window's hash lives at most one window past its end (${pttl} ms)`)

  const guess = (a: typeof one) => a.authorize(input({ apiKey, authorization: newSecret(), clientAddress: '203.0.113.9' }))
  t.same([(await guess(one)).outcome, (await guess(two)).outcome, (await guess(one)).outcome], ['unauthorized', 'unauthorized', 'auth_throttled'], 'failed authentications are counted across instances')
})

t.test('two app instances with REDIS_URL share the stack budget through forward-auth', async (t) => {
  const f = await authorizerFixture(t, { redisUrl: REDIS_URL, planReadLimit: 3, planWriteLimit: 3, redisCommandTimeoutMs: 10_000 })
  const apiKey = await f.createStack()
  const tokens = [await f.generateToken(apiKey), await f.generateToken(apiKey)]
  // One window for the four requests: the frozen clock's (its hash expires by itself).
  fakeWallClock(t)
  const b = await f.secondInstance()
  const appA = await appOver(t, f.deps)
  const appB = await appOver(t, b.deps)
  const ask = (app: typeof appA, secret: string) =>
    app.inject({
      method: 'GET',
      url: '/v3/authorize',
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/assets' },
    })
  const [s0, s1] = tokens.map((x) => x.secret) as [string, string]
  const codes = [await ask(appA, s0), await ask(appB, s1), await ask(appB, s0), await ask(appA, s1)]
  t.same(codes.map((r) => r.statusCode), [200, 200, 200, 429], 'two tokens on two instances spend one stack budget of 3')
  // Refused for the stack: the token's own budget is not spent by the refusal.
  t.equal(codes[3]?.headers.ratelimit, '"token";r=2;t=1, "stack";r=0;t=1')
})

t.test('when Redis is unreachable, decisions still hold and limits are counted in memory', async (t) => {
  const f = await authorizerFixture(t, { planReadLimit: 2, authFailureLimit: 1 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const down = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  t.teardown(() => down.disconnect())
  const errors: unknown[] = []
  const changes: string[] = []
  const a = createAuthorizer(f.deps, { redis: down, onLimiterError: (e) => errors.push(e), onLimitsChange: (m) => changes.push(m) })
  t.teardown(() => a.close())
  t.equal(a.limits(), 'shared', 'shared until Redis fails')
  const ok = await a.authorize(input({ apiKey, authorization: tok.secret }))
  t.equal(ok.allowed, true)
  t.equal(ok.allowed && ok.headers['x-ratelimit-remaining'], '1', 'the request that met the failure is counted in memory')
  t.equal(a.limits(), 'local')
  const second = a.authorize(input({ apiKey, authorization: tok.secret }))
  t.notOk(second instanceof Promise, 'later decisions are answered at once')
  t.equal((await a.authorize(input({ apiKey, authorization: tok.secret }))).outcome, 'rate_limited', 'never unlimited: the third read in the window is refused')
  const guess = () => a.authorize(input({ apiKey, authorization: newSecret(), clientAddress: '203.0.113.1' }))
  t.same([(await guess()).outcome, (await guess()).outcome], ['unauthorized', 'auth_throttled'], 'failed authentications are throttled in memory')
  t.equal((await a.authorize(input({ apiKey, authorization: tok.secret, path: '/v3/stacks' }))).outcome, 'forbidden')
  t.equal(errors.length, 1, 'one failure: nothing after it asked Redis')
  t.same(changes, ['local'], 'one change reported')
})

t.test('an authorizer that opened its own Redis client closes it', async (t) => {
  const f = await authorizerFixture(t, { redisUrl: REDIS_URL, redisCommandTimeoutMs: 10_000 })
  const a = createAuthorizer(f.deps)
  t.equal((await a.authorize(input({}))).outcome, 'no_stack')
  await a.close()
  t.pass('closed')
})
