import t from 'tap'
import { Allowed, type Deny } from '../../src/authorizer/decide.js'
import { denialAnswer, headerText, MAX_HEADER_MESSAGE } from '../../src/authorizer/denial.js'
import { answerOf, asciiJson } from '../../src/authorizer/forward-auth-answer.js'
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

t.test('a denial names its error in header-safe headers; for nginx, also its real status and body', async (t) => {
  const d: Deny = { allowed: false, outcome: 'branch', reason: 'branch-not-in-scope', branch: 'd\u00e9v"\r\nSet-Cookie: x=1' }
  const e = denialAnswer(d)
  t.same(e.headerRecord(), { 'x-mt-error-code': '901', 'x-mt-error-message': 'The token is not allowed on branch "d?v"??Set-Cookie: x=1".' }, 'CR, LF and non-ASCII become ?')
  t.equal(e.message, 'The token is not allowed on branch "d\u00e9v"\r\nSet-Cookie: x=1".', 'the body keeps the message')
  const long = headerText('x'.repeat(1000))
  t.equal(long.length, MAX_HEADER_MESSAGE)
  t.ok(long.endsWith('...'), 'a long message is cut, and says so')
  t.equal(headerText('plain'), 'plain')

  const direct = answerOf(d, false)
  t.equal(direct.status, 422)
  t.notOk(pairs(direct.headers).some(([name]) => name === 'x-mt-status' || name === 'x-mt-error-body'), 'only nginx needs the status and body in headers')
  const nginx = answerOf(d, true)
  t.equal(nginx.status, 403, 'nginx passes only 401 and 403')
  const h = Object.fromEntries(pairs(nginx.headers)) as Record<string, string>
  t.equal(h['x-mt-status'], '422')
  t.match(h['x-mt-error-body'], /^[\x20-\x7e]+$/, 'the body header is printable ASCII')
  t.same(JSON.parse(h['x-mt-error-body'] as string), JSON.parse(nginx.body as string), 'and parses to the body')
  t.equal(asciiJson({ s: '\u007f\u00e9\u{1f600}' }), '{"s":"\\u007f\\u00e9\\ud83d\\ude00"}')

  const unauthorizedAnswer = answerOf({ allowed: false, outcome: 'unauthorized', reason: 'missing-token' }, true)
  t.equal(unauthorizedAnswer.status, 401, 'a 401 stays a 401 for nginx')
  const limited = answerOf({ allowed: false, outcome: 'auth_throttled', reason: 'auth-rate-limited', retryAfter: 1 }, true)
  const slowDown = 'Too many failed authentications from this address; try again later.'
  t.same(pairs(limited.headers), [
    ['retry-after', '1'],
    ['x-mt-error-code', '429'],
    ['x-mt-error-message', slowDown],
    ['x-mt-status', '429'],
    ['x-mt-error-body', `{"error_message":"${slowDown}","error_code":429,"errors":{}}`],
    ['content-type', 'application/json; charset=utf-8'],
    ['content-length', String(limited.body?.length)],
  ])
})
