import { join } from 'node:path'
import t from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, OWNER, startApp, type TestApp } from '../support/app.js'
import { lastPosition, ManualScheduler, TestReceiver } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const SECRET = 'whsec_two_instances_0123456789'
const REDIS_URL = 'redis://127.0.0.1:6379'

t.test('two instances with WEBHOOK_URL and REDIS_URL (real Redis) send each delivery once, in stream order per stack', async (t) => {
  let now = () => 0
  const receiver = await new TestReceiver(SECRET, () => now()).start()
  t.teardown(() => receiver.stop())
  receiver.answer = (n) => (n % 4 === 1 ? 500 : 200) // some attempts fail, so claims change hands
  const config = { webhookUrl: receiver.url, webhookSecret: SECRET, redisUrl: REDIS_URL }
  const sa = new ManualScheduler()
  const sb = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler: sa, config })
  const b = await startApp(t, { clock: true, scheduler: sb, config, eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}` })
  now = () => Math.floor(a.clock!.now().getTime() / 1000)
  t.match(a.service.notifications.summary, /claims shared through Redis/)

  const stacks = [await a.createStack(OWNER, 'One'), await b.createStack(OWNER, 'Two')]
  for (const [i, apiKey] of stacks.entries()) {
    const x = i === 0 ? a : b
    await x.share(apiKey, OWNER, ADMIN, ['admin'])
    for (const n of [1, 2, 3]) await (n % 2 ? a : b).generate(apiKey, OWNER, { name: `t${n}` })
  }
  const last = await lastPosition(a)
  for (let round = 0; round < 12; round += 1) {
    for (const [x, s] of [[a, sa], [b, sb]] as const) {
      await waitFor(() => x.service.notifications.reactor.checkpoint >= last, { label: 'caught up' })
      x.clock!.advance(2000)
      s.fire()
      x.service.notifications.reactor.wake()
    }
    await Promise.all([a.service.notifications.reactor.idle(), b.service.notifications.reactor.idle()])
  }
  for (const apiKey of stacks) {
    const ids = (await a.service.store.readStream(stackStream(apiKey))).map((e) => e.id)
    await waitFor(() => ids.every((id) => receiver.processed.has(id)), { label: 'every event delivered' })
    const accepted = receiver.received.filter((r) => r.status === 200 && ids.includes(r.id)).map((r) => r.id)
    t.same(accepted, ids, `stack ${apiKey}: each delivery accepted once, in stream order`)
  }
  const sentBy = (x: TestApp) => x.logs().filter((l) => l.msg === 'delivered' && l.channel === 'webhook').length
  t.comment(`sent by a: ${sentBy(a)}, by b: ${sentBy(b)}; failed attempts: ${receiver.received.filter((r) => r.status === 500).length}`)
  t.equal(sentBy(a) + sentBy(b), receiver.processed.size, 'every delivery sent by one instance')
  // Which instance wins each claim is a race (both reactors wake as events arrive), so the split
  // is reported, not asserted: one instance may send everything. The hand-over itself (a failed
  // claim released, then taken by the other) is asserted deterministically in the next test.
  t.same([a, b].map((x) => x.service.notifications.outbox.list('pending').length), [0, 0], 'nothing left pending on either instance')
})

t.test('claims in Redis: one sender per delivery; a failed one is released; done is remembered; Redis down means send', async (t) => {
  const { randomUUID } = await import('node:crypto')
  const { pino } = await import('pino')
  const { redisClaims } = await import('../../src/react/webhook-claims.js')
  const lines: string[] = []
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) })
  const prefix = `mt-test:${randomUUID()}:`
  const a = redisClaims(REDIS_URL, 'a', logger, prefix)
  const b = redisClaims(REDIS_URL, 'b', logger, prefix)
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  t.equal(await a.claim('d1'), 'send')
  t.equal(await a.claim('d1'), 'send', 'the holder may try again')
  t.equal(await b.claim('d1'), 'wait', 'another instance waits')
  await a.release('d1')
  t.equal(await b.claim('d1'), 'send', 'released after a failure: another may take it')
  await b.delivered('d1')
  t.equal(await a.claim('d1'), 'done', 'delivered by b: a marks it sent without sending')

  const down = redisClaims('redis://127.0.0.1:1', 'c', logger, prefix)
  t.teardown(() => down.close())
  t.equal(await down.claim('d2'), 'send', 'at least once: without Redis, send')
  await down.delivered('d2')
  await down.release('d2')
  t.ok(lines.some((l) => l.includes('Redis unreachable')), 'and say so')
})

t.test('a webhook claimed elsewhere is looked at again later, without counting an attempt', async (t) => {
  const Database = (await import('better-sqlite3')).default
  const { pino } = await import('pino')
  const { Outbox } = await import('../../src/react/outbox.js')
  const { Dispatcher } = await import('../../src/react/dispatch.js')
  const db = new Database(':memory:')
  t.teardown(() => db.close())
  const outbox = new Outbox(db)
  outbox.add({ id: 'w1', channel: 'webhook', stack: 's', kind: 'token.generated', payload: '{}' }, 1000)
  let posted = 0
  const d = new Dispatcher({
    outbox,
    mail: { target: 'none', send: async () => {}, close: () => {} },
    webhook: { target: 'http://x', post: async () => ((posted += 1), { status: 200 }) },
    clock: () => new Date(1000),
    logger: pino({ level: 'silent' }),
    claims: { claim: async () => 'wait', delivered: async () => {}, release: async () => {}, close: async () => {} },
  })
  await d.deliverDue()
  t.equal(posted, 0, 'not sent')
  t.match(outbox.get('w1'), { status: 'pending', attempts: 0, next_attempt_at: 2000 })
})
