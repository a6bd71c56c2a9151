import { readFileSync } from 'node:fs'
import t from 'tap'
import { DENIAL_REASONS, type DenialReason, type DenyOf, OUTCOME_OF } from '../../src/authorizer/decision.js'
import { denialAnswer } from '../../src/authorizer/denial.js'
import { OUTCOMES } from '../../src/authorizer/metrics.js'
import { DENIAL_STATUS } from '../../src/http/errors.js'

const refusal = { refused: 'The path has an empty segment ("//").', field: 'path', problem: 'could be read two ways' }
/** One denial of every reason; the type makes a new reason fail to compile here until it has one. */
const SAMPLES: { readonly [R in DenialReason]: DenyOf<R> } = {
  'not-judgeable': { allowed: false, outcome: 'forbidden', reason: 'not-judgeable', refusal },
  'missing-api-key': { allowed: false, outcome: 'no_stack', reason: 'missing-api-key' },
  'unknown-stack': { allowed: false, outcome: 'no_stack', reason: 'unknown-stack' },
  'missing-token': { allowed: false, outcome: 'unauthorized', reason: 'missing-token' },
  'malformed-token': { allowed: false, outcome: 'unauthorized', reason: 'malformed-token' },
  'unknown-token': { allowed: false, outcome: 'unauthorized', reason: 'unknown-token' },
  'token-of-other-stack': { allowed: false, outcome: 'unauthorized', reason: 'token-of-other-stack' },
  'token-rotated-out': { allowed: false, outcome: 'unauthorized', reason: 'token-rotated-out' },
  'token-expired': { allowed: false, outcome: 'expired', reason: 'token-expired', expiresAt: Date.parse('2030-06-01T00:00:00Z') },
  'policy-lifetime': { allowed: false, outcome: 'expired', reason: 'policy-lifetime', maxLifetimeDays: 90 },
  'method-not-allowed': { allowed: false, outcome: 'forbidden', reason: 'method-not-allowed', refusal: { refused: 'Management tokens cannot send TRACE requests.', field: 'method', problem: 'is not allowed' } },
  'uri-not-canonical': { allowed: false, outcome: 'forbidden', reason: 'uri-not-canonical', refusal },
  'unknown-path': { allowed: false, outcome: 'forbidden', reason: 'unknown-path', method: 'GET', path: '/v3/nowhere' },
  'never-allowed': { allowed: false, outcome: 'forbidden', reason: 'never-allowed', never: 'management tokens' },
  'module-not-in-scope': { allowed: false, outcome: 'forbidden', reason: 'module-not-in-scope', module: 'asset', access: 'write' },
  'branch-not-in-scope': { allowed: false, outcome: 'branch', reason: 'branch-not-in-scope', branch: 'staging' },
  'address-not-allowed': { allowed: false, outcome: 'forbidden', reason: 'address-not-allowed', address: '203.0.113.9' },
  'rate-limited': {
    allowed: false,
    outcome: 'rate_limited',
    reason: 'rate-limited',
    budget: 'stack',
    access: 'read',
    limit: 10,
    headers: ['x-ratelimit-limit', '5', 'x-ratelimit-remaining', '2', 'retry-after', '1'],
  },
  'auth-rate-limited': { allowed: false, outcome: 'auth_throttled', reason: 'auth-rate-limited', retryAfter: 42 },
}

t.test('every reason of the closed list has one row in the table, and an answer', async (t) => {
  t.equal(new Set(DENIAL_REASONS).size, DENIAL_REASONS.length, 'no reason listed twice')
  t.same(Object.keys(DENIAL_STATUS).sort(), [...DENIAL_REASONS].sort(), 'the table has a row for each reason, and no other')
  for (const reason of DENIAL_REASONS) {
    const d = SAMPLES[reason]
    t.equal(d.reason, reason)
    const outcome: string = OUTCOME_OF[reason]
    t.ok(outcome !== 'allow' && (OUTCOMES as readonly string[]).includes(outcome), `${reason}: a denial outcome of the metrics (${outcome})`)
    t.equal(d.outcome, outcome)
    const [status, code] = DENIAL_STATUS[reason]
    const a = denialAnswer(d)
    t.equal(a.status, status, `${reason}: ${status}`)
    t.equal(a.errorCode, code, `${reason}: error_code ${code}`)
    t.ok(a.message.length > 10, `${reason}: says why`)
    t.same(JSON.parse(a.text), a.body(), `${reason}: the body, serialized`)
    t.equal(a.contentLength, String(Buffer.byteLength(a.text)))
    const h = a.headerRecord()
    t.equal(h['x-mt-error-code'], String(code), `${reason}: the code in a header`)
    t.equal(h['x-mt-error-message'], a.message, `${reason}: the message in a header`)
    const thrown = a.httpError()
    t.same([thrown.statusCode, thrown.body(), thrown.headers], [status, a.body(), h], `${reason}: as the error a management route throws`)
  }
})

t.test('the table answers with the facts of the denial', async (t) => {
  t.same(denialAnswer(SAMPLES['token-expired']).body(), {
    error_message: 'The management token expired at 2030-06-01T00:00:00.000Z.',
    error_code: 106,
    errors: { authorization: ['token expired'] },
  })
  t.same(denialAnswer(SAMPLES['policy-lifetime']).body(), {
    error_message: "The management token outlives the stack policy's maximum lifetime of 90 days (max_lifetime_days); edit its expiry to comply.",
    error_code: 106,
    errors: { authorization: ['outlives the stack policy (max_lifetime_days 90)'] },
  })
  t.same(denialAnswer(SAMPLES['uri-not-canonical']).body().errors, { path: ['could be read two ways'] })
  t.equal(denialAnswer(SAMPLES['module-not-in-scope']).message, "The token's scope does not allow write on asset.")
  t.equal(denialAnswer(SAMPLES['rate-limited']).message, "Rate limit exceeded: the stack's read budget of 10 per second is spent.")
  t.same(denialAnswer(SAMPLES['rate-limited']).headers.slice(0, 6), SAMPLES['rate-limited'].headers, 'the rate-limit headers first')
  t.equal(denialAnswer(SAMPLES['auth-rate-limited']).headerRecord()['retry-after'], '42')
  t.same(denialAnswer(SAMPLES['address-not-allowed']).body(), {
    error_message: 'The token may not be used from 203.0.113.9: the address is not in its allowed_ips.',
    error_code: 162,
    errors: { client_address: ['is not in allowed_ips'] },
  })
  const unknown = denialAnswer({ ...SAMPLES['address-not-allowed'], address: undefined })
  t.same([unknown.status, unknown.body().errors], [403, { client_address: ['is unknown'] }], 'no trustworthy address: denied, saying so')
  const long = denialAnswer({ ...SAMPLES['branch-not-in-scope'], branch: 'b'.repeat(500) })
  t.ok(long.message.length < 250, 'quoted input is cut')
})

t.test('a reason whose answer never changes is answered by one shared object', async (t) => {
  t.equal(denialAnswer(SAMPLES['unknown-token']), denialAnswer({ ...SAMPLES['unknown-token'] }), 'unknown-token')
  t.equal(denialAnswer(SAMPLES['missing-api-key']), denialAnswer(SAMPLES['missing-api-key']), 'missing-api-key')
  t.not(denialAnswer(SAMPLES['auth-rate-limited']), denialAnswer(SAMPLES['auth-rate-limited']), 'its own headers: one each')
  t.same(denialAnswer(SAMPLES['malformed-token']).body(), denialAnswer(SAMPLES['unknown-token']).body(), 'a malformed token is told what an unknown one is')
})

t.test('docs/authorizer.md lists every reason with its status and error_code', async (t) => {
  const doc = readFileSync(new URL('../../docs/authorizer.md', import.meta.url), 'utf8')
  for (const reason of DENIAL_REASONS) {
    const [status, code] = DENIAL_STATUS[reason]
    t.match(doc, new RegExp(`^\\| \`${reason}\` \\| ${status} \\| ${code} \\|`, 'm'), reason)
  }
})
