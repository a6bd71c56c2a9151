import { createSigner } from 'fast-jwt'
import * as E from 'fp-ts/lib/Either.js'
import t from 'tap'
import { CLOCK_SKEW_SECONDS, claimsOf, MAX_AUTHTOKEN_LIFETIME_SECONDS } from '../../src/http/claims.js'
import { JWT_SECRET, READ_ENTRIES, startApp } from '../support/app.js'

const NOW = new Date('2026-06-01T00:00:00.000Z')
const S = NOW.getTime() / 1000
const ok = { sub: 'u-kate', email: 'kate@example.com', iat: S, exp: S + 3600 }
const problemOf = (payload: unknown) => {
  const r = claimsOf(payload, NOW)
  return E.isLeft(r) ? r.left.problem : undefined
}

t.test('claimsOf: times', async (t) => {
  t.same(claimsOf(ok, NOW), E.right({ uid: 'u-kate', email: 'kate@example.com' }))
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['no exp', { exp: undefined }, 'lacks a finite exp'],
    ['exp as a string', { exp: String(S + 60) }, 'lacks a finite exp'],
    ['exp Infinity', { exp: Number.POSITIVE_INFINITY }, 'lacks a finite exp'],
    ['exp NaN', { exp: Number.NaN }, 'lacks a finite exp'],
    ['exp past', { exp: S - 1 }, 'is expired'],
    ['exp absurd', { exp: S + MAX_AUTHTOKEN_LIFETIME_SECONDS + 1 }, 'exp is more than 31 days ahead'],
    ['exp year 9999', { exp: 253402300799 }, 'exp is more than 31 days ahead'],
    ['iat in the future', { iat: S + CLOCK_SKEW_SECONDS + 1 }, 'iat is in the future'],
    ['iat not a number', { iat: 'yesterday' }, 'iat is not a finite number'],
    ['nbf in the future', { nbf: S + CLOCK_SKEW_SECONDS + 1 }, 'nbf is in the future'],
    ['empty sub', { sub: '  ' }, 'has an invalid sub'],
    ['no email', { email: undefined }, 'lacks sub or email'],
  ]
  for (const [what, change, problem] of cases) t.equal(problemOf({ ...ok, ...change }), problem, what)
  t.equal(problemOf({ ...ok, iat: S + CLOCK_SKEW_SECONDS, nbf: S + CLOCK_SKEW_SECONDS }), undefined, 'within the skew')
  t.equal(problemOf({ ...ok, exp: S + MAX_AUTHTOKEN_LIFETIME_SECONDS }), undefined, 'exactly the longest lifetime')
})

t.test('claimsOf: email, in one canonical form, look-alikes refused', async (t) => {
  for (const [raw, canonical] of [
    ['Kate@Example.COM', 'kate@example.com'],
    ['  kate@example.com ', 'kate@example.com'],
    ['jose\u0301@example.com', 'jos\u00e9@example.com'],
    ['jos\u00e9@example.com', 'jos\u00e9@example.com'],
  ] as const)
    t.same(claimsOf({ ...ok, email: raw }, NOW), E.right({ uid: 'u-kate', email: canonical }), JSON.stringify(raw))
  for (const [what, email] of [
    ['empty', ''],
    ['blank', '   '],
    ['no @', 'kate.example.com'],
    ['no domain dot', 'kate@example'],
    ['two @', 'kate@@example.com'],
    ['inner space', 'ka te@example.com'],
    ['control character', 'kate\u0000@example.com'],
    ['overlong', `${'k'.repeat(250)}@example.com`],
  ] as const)
    t.match(problemOf({ ...ok, email }), /^email (is empty|must be an email address)$/, what)
  for (const [what, email] of [
    ['Kelvin sign', '\u212Aate@example.com'],
    ['dotless i', 'k\u0131m@example.com'],
    ['dotted capital I', '\u0130van@example.com'],
    ['long s', '\u017Fam@example.com'],
    ['fullwidth k', '\uFF4Bate@example.com'],
    ['fullwidth capital K', '\uFF2Bate@example.com'],
    ['non-ASCII capital', 'JOS\u00c9@example.com'],
    ['fullwidth in the domain', 'kate@\uFF45xample.com'],
  ] as const)
    t.match(problemOf({ ...ok, email }), /^email contains characters that Unicode folds onto other letters/, what)
})

t.test('over HTTP: a look-alike of Kate never reaches her stack; bad times are 401', async (t) => {
  const a = await startApp(t)
  const kate = 'kate@example.com'
  const apiKey = await a.createStack(kate)
  const sign = (claims: Record<string, unknown>) => createSigner({ key: JWT_SECRET })(claims)
  const nowS = Math.floor(Date.now() / 1000)
  const tokens = (authtoken: string) =>
    a.call({ method: 'GET', url: '/v3/stacks/management_tokens', apiKey, headers: { authtoken } })
  t.equal((await tokens(sign({ sub: 'u-kate', email: kate, exp: nowS + 600 }))).statusCode, 200, 'Kate herself')
  for (const email of ['\u212Aate@example.com', '\uFF4Bate@example.com', 'KATE@EXAMPLE.COM'.replace('K', '\u212A')]) {
    const res = await tokens(sign({ sub: 'u-mallory', email, exp: nowS + 600 }))
    t.equal(res.statusCode, 401, `${JSON.stringify(email)}: ${res.body}`)
    t.equal(res.json().error_code, 105)
  }
  for (const [what, claims] of [
    ['no exp', { sub: 'u-kate', email: kate }],
    ['absurd exp', { sub: 'u-kate', email: kate, exp: nowS + 10 * 365 * 86400 }],
    ['iat in the future', { sub: 'u-kate', email: kate, exp: nowS + 600, iat: nowS + 3600 }],
    ['empty email', { sub: 'u-kate', email: '', exp: nowS + 600 }],
    ['not an address', { sub: 'u-kate', email: 'kate', exp: nowS + 600 }],
  ] as const) {
    const res = await tokens(sign(claims as Record<string, unknown>))
    t.equal(res.statusCode, 401, `${what}: ${res.body}`)
    t.ok(res.json().errors.authtoken, what)
  }
  const share = await a.call({
    method: 'POST',
    url: '/v3/stacks/share',
    as: kate,
    apiKey,
    body: { emails: ['\u017Fam@example.com'], roles: { '\u017Fam@example.com': ['admin'] } },
  })
  t.equal(share.statusCode, 422, 'a look-alike cannot be shared with either')
  t.match(share.json().errors.emails, [/Unicode folds/])
  const created = await a.call({ method: 'POST', url: '/v3/stacks/management_tokens', as: 'Kate@Example.com', apiKey, body: { token: { name: 'x', scope: READ_ENTRIES } } })
  t.equal(created.statusCode, 201, 'ASCII capitals are the same person')
})
