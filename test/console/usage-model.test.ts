import t from 'tap'
import { bucketLabel, EMPTY, fillBuckets, lastWindow, niceMax, total } from '../../console/src/usage-model.js'

const NOW = Date.parse('2026-03-10T12:34:56.789Z')

t.test('windows: the last 24 hours and 30 days end at the clock, the current bucket last', async (t) => {
  const h = lastWindow(NOW, 'hour', 24)
  t.equal(new Date(h.from).toISOString(), '2026-03-09T13:00:00.000Z', '23 whole hours before the current one')
  t.equal(h.to, NOW)
  const d = lastWindow(NOW, 'day', 30)
  t.equal(new Date(d.from).toISOString(), '2026-02-09T00:00:00.000Z', '29 whole UTC days before today')
})

t.test('buckets: every step present, zeros where the service has none, counts in the bucket holding their time', async (t) => {
  const w = lastWindow(NOW, 'hour', 24)
  const series = [
    { ...EMPTY, at: '2026-03-09T13:00:00.000Z', allowed: 5, denied: 1 },
    { ...EMPTY, at: '2026-03-10T12:00:00.000Z', allowed: 2, rate_limited: 3 },
    { ...EMPTY, at: '2026-03-10T12:30:00.000Z', revoked: 1 },
    { ...EMPTY, at: '2026-03-09T12:00:00.000Z', allowed: 99 },
  ]
  const b = fillBuckets(series, w)
  t.equal(b.length, 24)
  t.same(b[0], { ...EMPTY, at: w.from, allowed: 5, denied: 1 })
  t.same(b[23], { ...EMPTY, at: w.from + 23 * 3_600_000, allowed: 2, rate_limited: 3, revoked: 1 }, 'a finer count adds to its hour')
  t.equal(b.slice(1, 23).every((x) => total(x) === 0), true, 'the hours between are zeros')
  t.equal(b.reduce((n, x) => n + total(x), 0), 12, 'a count before the window is left out')
})

t.test('scale and labels', async (t) => {
  t.same([0, 1, 2, 3, 7, 10, 11, 49, 51, 999, 1001].map(niceMax), [1, 1, 2, 5, 10, 10, 20, 50, 100, 1000, 2000])
  t.equal(bucketLabel(Date.parse('2026-03-10T07:00:00.000Z'), 'hour'), '07:00')
  t.equal(bucketLabel(Date.parse('2026-03-07T00:00:00.000Z'), 'day'), '03-07')
})
