import t from 'tap'
import { tokensAsOf, TokensAsOf } from '../../projections/tokens-by-stack/as-of.js'
import { decodeOrThrow } from '../../src/domain/decode.js'
import { projectedHistory } from '../cli/fixtures/history.js'
import { Watched } from '../support/watched-store.js'

t.test('tokensAsOf: paged, from the embedded store or another, it is the whole stream folded at once', async (t) => {
  const { store } = await projectedHistory(t)
  // Another store (any EventStore but the embedded one's class) is read a page at a time through the port too.
  const other = new Watched(store)
  const streams = store.connection.prepare<[], string>('SELECT DISTINCT stream FROM events ORDER BY 1').pluck().all()
  t.ok(streams.length >= 4, `${streams.length} stacks`)
  let compared = 0
  let longest = 0
  for (const stream of streams) {
    const records = (await store.readStream(stream)).map(decodeOrThrow)
    const times = records.map((r) => Date.parse(r.metadata.occurred_at))
    const instants = [times[0] as number, ...times.filter((_, i) => i % 5 === 0), times[times.length - 1] as number].flatMap((ms) => [ms - 1, ms, ms + 1])
    for (const asOf of [...instants, Date.parse('2999-01-01')]) {
      const whole = new TokensAsOf()
      for (const r of records) if (Date.parse(r.metadata.occurred_at) <= asOf) whole.apply(r)
      const expected = whole.at(asOf)
      for (const size of [1, 7, records.length, 1000]) {
        t.same(await tokensAsOf(store, stream, asOf, size), expected, `${stream} at ${asOf}, pages of ${size}`)
        t.same(await tokensAsOf(other, stream, asOf, size), expected, `${stream} at ${asOf}, another store, pages of ${size}`)
        // Full pages, then the rest: an empty one after a stream of whole pages.
        const pages = Array.from({ length: Math.floor(records.length / size) + 1 }, (_, i) => ({ from: i * size, got: Math.min(size, records.length - i * size) }))
        t.same(other.takeReads(), pages, `${stream}: ${pages.length} reads of at most ${size}`)
        compared += 2
      }
    }
    longest = Math.max(longest, records.length)
  }
  t.same(await tokensAsOf(store, 'stack-none', Date.parse('2999-01-01')), [], 'an unknown stream has no tokens')
  t.same(await tokensAsOf(other, 'stack-none', Date.parse('2999-01-01')), [])
  t.ok(longest > 20, `the longest stream has ${longest} events: several pages of 7`)
  t.ok(compared > 200, `${compared} answers compared`)
})
