import t from 'tap'
import { createAuthorizer, type Decision } from '../../src/authorizer/decide.js'
import { denialAnswer } from '../../src/authorizer/denial.js'
import { LocalCounters } from '../../src/authorizer/rate-limits.js'
import { authorizerFixture, fakeWallClock, input } from '../support/authorizer-fixtures.js'

const headersOf = (d: Decision) => (d.allowed ? d.headers : denialAnswer(d).headerRecord())

t.test('per-token budgets per class and one-second windows (fake wall clock)', async (t) => {
  const wall = fakeWallClock(t)
  const f = await authorizerFixture(t, { planReadLimit: 10, planWriteLimit: 10 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey, { rate_limit: { read: 3, write: 2 } })
  const a = createAuthorizer(f.deps)
  const read = () => a.authorize(input({ apiKey, authorization: tok.secret })) as Decision
  const write = () => a.authorize(input({ apiKey, authorization: tok.secret, method: 'POST' })) as Decision

  const first = read()
  t.same(first.allowed && first.headers, {
    'x-ratelimit-limit': '3',
    'x-ratelimit-remaining': '2',
    'ratelimit-policy': '"token";q=3;w=1, "stack";q=10;w=1',
    ratelimit: '"token";r=2;t=1, "stack";r=9;t=1',
  })
  wall.advance(400)
  t.equal(headersOf(read())['x-ratelimit-remaining'], '1')
  t.equal(headersOf(read())['x-ratelimit-remaining'], '0')
  const over = read()
  t.equal(over.allowed, false, 'the 4th read in the window is refused')
  t.same(headersOf(over), {
    'x-ratelimit-limit': '3',
    'x-ratelimit-remaining': '0',
    'ratelimit-policy': '"token";q=3;w=1, "stack";q=10;w=1',
    ratelimit: '"token";r=0;t=1, "stack";r=7;t=1',
    'retry-after': '1',
    'x-mt-error-code': '429',
    'x-mt-error-message': "Rate limit exceeded: the token's read budget of 3 per second is spent.",
  }, 'the stack window is reported without being spent')
  t.equal(over.allowed ? 0 : denialAnswer(over).status, 429)

  t.equal(write().allowed, true, 'writes have their own budget')
  t.same(headersOf(write())['x-ratelimit-limit'], '2')
  t.equal(write().allowed, false, 'the 3rd write is refused')

  wall.advance(599)
  t.equal(read().allowed, false, '1 ms before the window ends')
  wall.advance(1)
  const fresh = read()
  t.equal(fresh.allowed, true, 'a new window')
  t.equal(headersOf(fresh)['x-ratelimit-remaining'], '2')
})

t.test('the stack-wide budget is shared by all its tokens, per class', async (t) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, { planReadLimit: 4, planWriteLimit: 4 })
  const apiKey = await f.createStack()
  const other = await f.createStack()
  const tokens = await Promise.all([1, 2, 3].map(() => f.generateToken(apiKey)))
  const elsewhere = await f.generateToken(other)
  const a = createAuthorizer(f.deps)
  const read = (secret: string, key = apiKey) => a.authorize(input({ apiKey: key, authorization: secret })) as Decision
  const outcomes = [0, 1, 2, 0, 1].map((i) => read((tokens[i] as { secret: string }).secret))
  t.same(outcomes.map((d) => d.allowed), [true, true, true, true, false], 'the 5th read of the stack is refused')
  const d = outcomes[4] as Decision
  t.match(d.allowed ? '' : denialAnswer(d).message, /stack's read budget of 4/)
  t.same(headersOf(d), {
    'x-ratelimit-limit': '4',
    'x-ratelimit-remaining': '2',
    'ratelimit-policy': '"token";q=4;w=1, "stack";q=4;w=1',
    ratelimit: '"token";r=2;t=1, "stack";r=0;t=1',
    'retry-after': '1',
    'x-mt-error-code': '429',
    'x-mt-error-message': "Rate limit exceeded: the stack's read budget of 4 per second is spent.",
  }, 'the token had budget left; the stack did not')
  t.equal(read(elsewhere.secret, other).allowed, true, 'another stack has its own budget')
  t.equal((a.authorize(input({ apiKey, authorization: (tokens[2] as { secret: string }).secret, method: 'DELETE' })) as Decision).allowed, true, 'writes are counted apart')
})

t.test('a limit change applies to the next request, within the current window', async (t) => {
  fakeWallClock(t)
  const f = await authorizerFixture(t, { planReadLimit: 10 })
  const apiKey = await f.createStack()
  const tok = await f.generateToken(apiKey)
  const a = createAuthorizer(f.deps)
  const read = () => a.authorize(input({ apiKey, authorization: tok.secret })) as Decision
  t.equal(headersOf(read())['x-ratelimit-limit'], '10', 'plan default')
  t.equal(read().allowed, true)
  await f.changeLimits(apiKey, tok.uid, { read: 2, write: 1 })
  const d = read()
  t.equal(d.allowed, false, 'third read with a limit of 2')
  t.equal(headersOf(d)['x-ratelimit-limit'], '2')
  await f.changeLimits(apiKey, tok.uid, null)
  t.equal(read().allowed, true, 'back to the plan limit')
})

t.test('the failed-authentication window is one minute', async (t) => {
  const wall = fakeWallClock(t)
  const f = await authorizerFixture(t, { authFailureLimit: 1 })
  const apiKey = await f.createStack()
  const a = createAuthorizer(f.deps)
  const guess = () => (a.authorize(input({ apiKey, authorization: 'cs00000000000000000000000000000000', clientAddress: '192.0.2.1' })) as Decision).outcome
  t.equal(guess(), 'unauthorized')
  t.equal(guess(), 'auth_throttled')
  wall.advance(59_999)
  t.equal(guess(), 'auth_throttled')
  wall.advance(1)
  t.equal(guess(), 'unauthorized')
})

t.test('LocalCounters: windows as LocalStore keeps them, bounded memory', async (t) => {
  const c = new LocalCounters(4)
  t.same({ ...c.hit('a', 1000, 0) }, { key: 'a', current: 1, ttl: 1000, held: true, start: 0, length: 1000 })
  t.equal(c.hit('a', 1000, 400).current, 2)
  t.equal(c.hit('a', 1000, 400).ttl, 600)
  t.same(c.peek('a', 1000, 999), { current: 3, ttl: 1 }, 'peek reports without counting')
  t.same(c.peek('a', 1000, 1000), { current: 0, ttl: 0 }, 'an expired window is none')
  t.same(c.peek('nobody', 1000, 0), { current: 0, ttl: 0 })
  t.equal(c.hit('a', 1000, 1000).current, 1, 'a new window from the first hit after the end')

  // Full: the expired windows go first, the live ones stay.
  c.hit('b', 10, 1000)
  c.hit('c', 5000, 1000)
  c.hit('d', 5000, 1000)
  t.equal(c.size, 4)
  c.hit('e', 5000, 1500) // b (ended at 1010) is dropped
  t.equal(c.size, 4)
  t.equal(c.peek('c', 5000, 1500).current, 1, 'a live window is kept')
  t.equal(c.peek('a', 1000, 1500).current, 1)
  // Every window live: the oldest started are dropped, down to 90% of the capacity.
  c.hit('f', 5000, 1600)
  t.equal(c.size, 4)
  t.equal(c.peek('a', 1000, 1600).current, 0, 'the window started first (a, again at 1000) was dropped')
  t.equal(c.peek('c', 5000, 1600).current, 1)

  // A window that starts again moves behind the others, so it is not taken for the oldest.
  const two = new LocalCounters(2)
  two.hit('x', 10, 0)
  two.hit('y', 5000, 0)
  two.hit('x', 10, 25) // x starts again, after y
  two.hit('z', 5000, 30) // full, nothing expired: the oldest start (y) goes
  t.equal(two.peek('x', 10, 30).current, 1, 'the restarted window stays')
  t.equal(two.peek('y', 5000, 30).current, 0, 'the window started first goes')
})

t.test('LocalCounters: a window handed back counts without a lookup while the map holds it', async (t) => {
  const c = new LocalCounters(2)
  const a = c.hit('a', 1000, 0)
  t.equal(c.hit('a', 1000, 10, a), a, 'the same window')
  t.equal(a.current, 2)
  t.equal(c.peek('a', 1000, 10).current, 2, 'counted in the map too')
  const b = c.hit('b', 5000, 20)
  c.hit('c', 5000, 1500) // full: a (ended at 1000) is swept out
  t.equal(a.held, false, 'a swept window says so')
  t.equal(b.held, true)
  const again = c.hit('a', 1000, 1600, a)
  t.not(again, a, 'a stale window is not counted into: the map gets a new one')
  t.equal(again.current, 1)
  t.equal(c.peek('a', 1000, 1600).current, 1)
  t.equal(a.current, 2, 'the stale window is left as it was')
})

t.test('LocalCounters keeps the store contract for the failure limiter', async (t) => {
  const wall = fakeWallClock(t)
  const c = new LocalCounters()
  const seen: unknown[] = []
  c.incr('f:1.2.3.4', (e, hit) => seen.push(e, hit), 60_000)
  wall.advance(1000)
  c.incr('f:1.2.3.4', (e, hit) => seen.push(e, hit), 60_000)
  c.read('f:1.2.3.4', (e, hit) => seen.push(e, hit), 60_000)
  t.same(seen, [null, { current: 1, ttl: 60_000 }, null, { current: 2, ttl: 59_000 }, null, { current: 2, ttl: 59_000 }])
})
