/**
 * The secret's one rule: what the service issues is what the authorizer recognises and hashes
 * alike. The authorizer's scanner reads in place, for speed; it is checked against the plain
 * regular expression of the form, and against the generator, on arbitrary input.
 */
import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import t from 'tap'
import { checksumOf, failsChecksum, hashSecret, isSecret, newSecret, SECRET_PREFIX, secretOf } from '../../src/domain/secret.js'

const FORM = /^cs[0-9a-f]{32,128}$/
/** What the README gives secret scanners. */
const SCANNER = /^cs[0-9a-f]{40}$/
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
      t.ok(secret.startsWith(SECRET_PREFIX) && SCANNER.test(secret) && secret.length === 42, secret)
      t.notOk(failsChecksum(secret))
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

/** The check as the README tells scanners to do it, written apart from the module's. */
const scannerAccepts = (s: string) => SCANNER.test(s) && (crc32(s.slice(2, 34)) >>> 0).toString(16).padStart(8, '0') === s.slice(34)

t.test('checksum: every issued secret passes; changing any one character after cs fails it', async (t) => {
  const hex = '0123456789abcdef'
  fc.assert(
    fc.property(issued, fc.nat({ max: 39 }), fc.nat({ max: 14 }), ({ secret }, at, shift) => {
      t.ok(scannerAccepts(secret), secret)
      const i = 2 + at
      const other = hex[(hex.indexOf(secret[i] as string) + 1 + shift) % 16] as string
      const corrupted = secret.slice(0, i) + other + secret.slice(i + 1)
      t.ok(isSecret(corrupted), 'still has the form')
      t.ok(failsChecksum(corrupted), `${corrupted}: one digit changed at ${i}`)
      t.notOk(scannerAccepts(corrupted))
    }),
    { numRuns: 500 },
  )
})

t.test('checksum: two swapped adjacent digits fail it; only 42-character secrets are judged', async (t) => {
  fc.assert(
    fc.property(issued, fc.nat({ max: 38 }), ({ secret }, at) => {
      const i = 2 + at
      // Within the random digits (a burst a CRC-32 always detects) or within the checksum; not across both.
      if (secret[i] === secret[i + 1] || i === 33) return
      const swapped = secret.slice(0, i) + secret[i + 1] + secret[i] + secret.slice(i + 2)
      t.ok(failsChecksum(swapped), swapped)
    }),
    { numRuns: 300 },
  )
  const legacy = `cs${'7'.repeat(32)}`
  t.ok(isSecret(legacy) && !failsChecksum(legacy), 'a secret of 34 characters (issued before the checksum) is looked up')
  t.notOk(failsChecksum(`cs${'7'.repeat(48)}`), 'another length is not judged')
  t.equal(checksumOf('00000000000000000000000000000000'), (crc32('00000000000000000000000000000000') >>> 0).toString(16).padStart(8, '0'))
  t.equal(checksumOf('0123456789abcdef0123456789abcdef').length, 8)
})
