import t from 'tap'
import { requestIdFrom, requestIds, newRequestId } from '../../src/http/request-id.js'

const V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

t.test('new ids are RFC 9562 version 8 UUIDs, each different', async (t) => {
  const ids = Array.from({ length: 1000 }, () => newRequestId())
  for (const id of ids.slice(0, 5)) t.match(id, V8)
  t.equal(new Set(ids).size, ids.length, 'no id twice')
  t.equal(ids.every((id) => V8.test(id)), true)
})

t.test('the counter wraps with a new random prefix, so ids never repeat', async (t) => {
  let draws = 0
  // First prefix all 0x11, counter starting at its last value; the next prefix all 0x22.
  const random = (n: number) => (n === 4 ? Buffer.from([0xff, 0xff, 0xff, 0xff]) : Buffer.alloc(n, draws++ === 0 ? 0x11 : 0x22))
  const next = requestIds(random)
  const wrapped = next()
  t.equal(wrapped, '22222222-2222-8222-a222-222220000000', 'the prefix is drawn again at 0')
  t.match(wrapped, V8)
  t.equal(next(), '22222222-2222-8222-a222-222220000001')
  t.equal(draws, 2)
})

t.test("a caller's sensible id is kept; anything else (a repeated header Node joined) gets a new one", async (t) => {
  t.equal(requestIdFrom('trace-1.a_b'), 'trace-1.a_b')
  t.match(requestIdFrom('a, b'), V8)
  t.match(requestIdFrom(undefined), V8)
  t.match(requestIdFrom('x'.repeat(101)), V8)
})
