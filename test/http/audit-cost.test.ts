import { request, Agent } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { emptyCounts, seedHistory, type SeedAppend } from '../../src/cli/seed-history.js'
import type { Recorded } from '../../src/domain/events.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { TokensAsOf } from '../../src/read/as-of.js'
import { decodeOrThrow } from '../../src/read/decode.js'
import { startApp, tempDir } from '../support/app.js'

/** One stack with ~50,000 events (30 tokens, 1,650 changes each) in `dir`'s event store; its key and a manager. */
const seedOneBigStack = async (dir: string) => {
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const policy = { maxTokensPerStack: 30, planReadLimit: 10, planWriteLimit: 10 }
  let batch: SeedAppend[] = []
  for (const a of seedHistory({ stacks: 1, tokensPerStack: 30, changes: 1650, seed: 3, start: new Date('2025-01-01T00:00:00.000Z'), policy }, emptyCounts())) {
    batch.push(a)
    if (batch.length === 5000) batch = (store.appendBatchSync(batch), [])
  }
  store.appendBatchSync(batch)
  const events = store.headPosition()
  const all = (await store.readStream(batch[0]?.stream as string)).map(decodeOrThrow)
  await store.close()
  // The author of the last change was an owner or admin then, and nothing changed since.
  const last = all[all.length - 1] as Recorded
  return { apiKey: last.event.data.api_key, manager: last.metadata, events, all, lastAt: last.metadata.occurred_at }
}

t.test('an as-of over a long history lets a /healthz sent after it be answered first', async (t) => {
  const dir = tempDir(t)
  const seeded = await seedOneBigStack(dir)
  t.ok(seeded.events >= 45_000, `${seeded.events} events in one stack`)
  const a = await startApp(t, { dataDir: dir })
  await a.service.projector.waitFor(seeded.events)
  await a.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = a.app.server.address() as { port: number }
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const answered: string[] = []
  const get = (name: string, path: string, headers: Record<string, string> = {}, via?: Agent) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers, ...(via ? { agent: via } : {}) }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
          answered.push(name)
          resolve({ status: res.statusCode as number, body })
        })
      })
      req.on('error', reject).end()
    })
  // /healthz's connection is open before the as-of is sent, so its request goes out at once.
  t.equal((await get('warm-up', '/healthz', {}, agent)).status, 200)

  // The fold has begun once the handler reads the stack's stream (whole, or its first page).
  const store = a.service.store as SqliteEventStore
  let begun: () => void = () => {}
  const folding = new Promise<void>((resolve) => (begun = resolve))
  const readStream = store.readStream.bind(store)
  const readStreamPage = store.readStreamPage.bind(store)
  store.readStream = (stream) => (begun(), readStream(stream))
  store.readStreamPage = (stream, from, limit) => (begun(), readStreamPage(stream, from, limit))

  const at = encodeURIComponent(seeded.lastAt)
  const asOf = get('as-of', `/v3/audit-logs/as-of?at=${at}`, { authtoken: a.authtoken(seeded.manager.actor_email as string, seeded.manager.actor), api_key: seeded.apiKey })
  await folding
  const health = get('healthz', '/healthz', {}, agent)
  const [h, res] = await Promise.all([health, asOf])
  t.equal(h.status, 200)
  t.equal(res.status, 200, 'the as-of is answered')
  t.same(answered, ['warm-up', 'healthz', 'as-of'], '/healthz is answered while the as-of still folds')

  // The paged answer is the whole stream's fold, as before.
  const folded = new TokensAsOf()
  for (const r of seeded.all) folded.apply(r)
  const expected = folded.at(Date.parse(seeded.lastAt)).map(({ stack: _stack, ...token }) => token)
  t.same(JSON.parse(res.body), { as_of: seeded.lastAt, tokens: expected })
  t.ok(expected.length >= 30, `${expected.length} tokens`)
  t.equal(seeded.all[0]?.stream, stackStream(seeded.apiKey))
})
