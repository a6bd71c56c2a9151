import { request, Agent } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { POLICY } from '../support/decider-spec.js'
import { emptyCounts, seedHistory, type SeedAppend } from '../../src/cli/seed-history.js'
import type { Recorded } from '../../src/domain/events.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { SqliteEventStore } from '../../src/eventstore/sqlite.js'
import { TokensAsOf } from '../../projections/tokens-by-stack/as-of.js'
import { decodeOrThrow } from '../../src/domain/decode.js'
import { ADMIN, OWNER, READ_ENTRIES, START, startApp, tempDir, uidOf } from '../support/app.js'

/** One stack with ~50,000 events (30 tokens, 1,650 changes each) in `dir`'s event store; its key and a manager. */
const seedOneBigStack = async (dir: string) => {
  const store = new SqliteEventStore(join(dir, 'events.db'))
  const policy = POLICY
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

  // The fold has begun once the handler reads the stack's stream's first page.
  const store = a.service.store as SqliteEventStore
  let begun: () => void = () => {}
  const folding = new Promise<void>((resolve) => (begun = resolve))
  const readStream = store.readStream.bind(store)
  store.readStream = (stream, options) => (begun(), readStream(stream, options))

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

t.test("a person's audit-log requests are limited per minute: the one over the limit is 429 with Retry-After", async (t) => {
  const a = await startApp(t, { clock: true, config: { auditRateLimit: 3, managementRateLimit: 4 } })
  const apiKey = await a.createStack(OWNER) // management requests: 1
  await a.share(apiKey, OWNER, ADMIN, ['admin']) // 2
  const auditor = await a.generate(apiKey, OWNER, { name: 'auditor', scope: [{ module: 'audit_log', acl: { read: true } }] }) // 3
  const audit = (as: string | undefined, url = '/v3/audit-logs', headers: Record<string, string> = {}) =>
    a.call({ method: 'GET', url, apiKey, headers, ...(as ? { as } : {}) })
  const first = (await audit(OWNER)).json().logs[0] as { uid: string }
  t.equal((await audit(OWNER, `/v3/audit-logs/as-of?at=${START.toISOString()}`)).statusCode, 200)
  t.equal((await audit(OWNER, `/v3/audit-logs/${first.uid}`)).statusCode, 200, 'three requests, one of each route')

  const over = await audit(OWNER, `/v3/audit-logs/as-of?at=${START.toISOString()}`)
  t.equal(over.statusCode, 429, 'the fourth in the minute')
  t.equal(over.headers['retry-after'], '60')
  t.same(over.json(), {
    error_code: 429,
    error_message: 'Too many audit-log requests from this user; try again in 60 s.',
    errors: { authtoken: ['has made more than 3 audit-log requests in a minute'] },
  })
  t.notOk(over.headers['x-ratelimit-limit'], 'no rate-limit headers of the plugin: they mean a token budget here')
  t.equal((await audit(ADMIN)).statusCode, 200, 'another user has a budget of their own')
  for (let i = 1; i <= 4; i += 1)
    t.equal((await audit(undefined, '/v3/audit-logs', { authorization: auditor.secret })).statusCode, 200, 'a management token is not counted here')
  const other = a.authtoken('someone@example.com', uidOf(OWNER))
  t.equal((await audit(undefined, '/v3/audit-logs', { authtoken: other })).statusCode, 429, 'counted by the subject, whatever the email')

  // Stack and token requests have a budget of their own (MANAGEMENT_RATE_LIMIT).
  t.equal((await a.call({ method: 'GET', url: '/v3/stacks/management_tokens', as: OWNER, apiKey })).statusCode, 200) // 4
  const tokens = await a.call({ method: 'POST', url: '/v3/stacks/management_tokens', as: OWNER, apiKey, body: { token: { name: 'x', scope: READ_ENTRIES } } })
  t.equal(tokens.statusCode, 429, 'the fifth stack or token request in the minute')
  t.match(tokens.json(), { error_code: 429, error_message: /^Too many management requests from this user; try again in \d+ s\.$/ })
  t.ok(Number(tokens.headers['retry-after']) > 0)
  t.equal((await a.call({ method: 'GET', url: '/v3/stacks', as: ADMIN, apiKey })).statusCode, 200, 'not for another user')
  t.same(await a.eventTypes(apiKey), ['StackCreated', 'MemberShared', 'TokenGenerated'], 'the refused request changed nothing')

  a.clock?.advance(45_000)
  const later = await audit(OWNER)
  t.equal(later.statusCode, 429)
  t.equal(later.headers['retry-after'], '15', 'what is left of the minute')
  a.clock?.advance(15_000)
  t.equal((await audit(OWNER)).statusCode, 200, 'a new minute, a new budget')

  for (let i = 1; i <= 3; i += 1) t.equal((await audit(undefined, '/v3/audit-logs', { authtoken: 'not-a-jwt' })).statusCode, 401)
  const bad = await audit(undefined, '/v3/audit-logs', { authtoken: 'still-not-a-jwt' })
  t.equal(bad.statusCode, 429, 'authtokens that do not verify are counted by the client address')
  for (let i = 1; i <= 5; i += 1) t.equal((await audit(undefined)).statusCode, 401, 'no credentials: 401, never counted')
})
