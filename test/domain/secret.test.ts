/**
 * The secret's one rule: what the service issues is what the authorizer recognises and hashes
 * alike. The authorizer's scanner reads in place, for speed; it is checked against the plain
 * regular expression of the form, and against the generator, on arbitrary input.
 */
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { hashSecret, isSecret, newSecret, SECRET_PREFIX, secretOf } from '../../src/domain/secret.js'

const FORM = /^cs[0-9a-f]{32,128}$/
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
/** The rule as plainly as it can be said: an optional `Bearer ` (any case), spaces around the secret ignored. */
const plainSecretOf = (authorization: string): string | undefined => {
  const rest = authorization.length > 7 && authorization.slice(0, 7).toLowerCase() === 'bearer ' ? authorization.slice(7) : authorization
  const s = rest.trim()
  return FORM.test(s) ? s : undefined
}
const issued = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => newSecret((n) => Buffer.from(bytes).subarray(0, n)))
const spelling = fc.constantFrom('', 'Bearer ', 'bearer ', 'BEARER ', 'bEaReR ')
const padding = fc.constantFrom('', ' ', '  ', '\t')

t.test('every issued secret has the form, is recognised in every spelling and hashed as issued', async (t) => {
  fc.assert(
    fc.property(issued, spelling, padding, padding, ({ secret, hash }, bearer, before, after) => {
      t.ok(secret.startsWith(SECRET_PREFIX) && FORM.test(secret) && secret.length === 34, secret)
      t.ok(isSecret(secret))
      t.equal(secretOf(`${bearer}${before}${secret}${after}`), secret)
      t.equal(hash, hashSecret(secret))
      t.equal(hash, sha256(secret), 'the SHA-256, in hex')
    }),
    { numRuns: 200 },
  )
})

t.test('the in-place scanner says what the plain rule says, on any input', async (t) => {
  const hex = fc.constantFrom(...'0123456789abcdef')
  const near = fc.constantFrom(...'0123456789abcdefABCDEFgcs x\u00e9')
  const digits = (chars: fc.Arbitrary<string>) => fc.array(chars, { minLength: 28, maxLength: 132 }).map((a) => a.join(''))
  const body = fc.oneof(digits(hex), digits(near), fc.string())
  const candidate = fc.tuple(fc.constantFrom('cs', 'Cs', 'cS', 'c', 'sc', ''), body).map(([p, b]) => p + b)
  const authorization = fc.tuple(spelling, padding, candidate, padding).map((parts) => parts.join(''))
  fc.assert(
    fc.property(fc.oneof(authorization, fc.string()), (a) => {
      t.equal(secretOf(a), plainSecretOf(a), JSON.stringify(a))
      t.equal(isSecret(a), FORM.test(a))
    }),
    { numRuns: 2000 },
  )
})

t.test('the bounds: 32 to 128 digits, lower case only', async (t) => {
  const digits = (n: number) => 'a'.repeat(n)
  t.notOk(isSecret(`cs${digits(31)}`))
  t.ok(isSecret(`cs${digits(32)}`))
  t.ok(isSecret(`cs${digits(128)}`))
  t.notOk(isSecret(`cs${digits(129)}`))
  t.notOk(isSecret(`cs${'A'.repeat(32)}`))
  t.equal(secretOf('Bearer'), undefined)
})
