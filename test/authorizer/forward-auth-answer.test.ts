import t from 'tap'
import { Allowed } from '../../src/authorizer/decide.js'
import { answerOf } from '../../src/authorizer/forward-auth-answer.js'
import { tokenLimits } from '../../src/authorizer/rate-limits.js'

const limits = tokenLimits('blt1', 'bltstack', { read: 5, write: 2 }, { read: 10, write: 4 }).read
const pairs = (flat: readonly string[]) => Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]])

t.test('an allowed answer lists the same headers as the decision, flat', async (t) => {
  const d = new Allowed('blt1', 'bltstack', 'GET', '/v3/assets', limits, { exceeded: undefined, tokenCurrent: 2, tokenTtl: 400, stackCurrent: 7, stackTtl: 1000 })
  const a = answerOf(d, false)
  t.equal(a.status, 200)
  t.same(Object.fromEntries(pairs(a.headers)), { ...d.headers, 'x-token-uid': 'blt1', 'x-stack-api-key': 'bltstack', 'content-length': '0' })
  t.same(d.headers, { 'x-ratelimit-limit': '5', 'x-ratelimit-remaining': '3', 'ratelimit-policy': '"token";q=5;w=1, "stack";q=10;w=1', ratelimit: '"token";r=3;t=1, "stack";r=3;t=1' })
})

t.test('counters unreachable: the policy only, in the decision and in the answer', async (t) => {
  const d = new Allowed('blt1', 'bltstack', 'GET', '/v3/assets', limits, undefined)
  t.same(d.headers, { 'x-ratelimit-limit': '5', 'ratelimit-policy': '"token";q=5;w=1, "stack";q=10;w=1' })
  t.same(pairs(answerOf(d, false).headers), [
    ['x-ratelimit-limit', '5'],
    ['ratelimit-policy', '"token";q=5;w=1, "stack";q=10;w=1'],
    ['x-token-uid', 'blt1'],
    ['x-stack-api-key', 'bltstack'],
    ['content-length', '0'],
  ])
})
