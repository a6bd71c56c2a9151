import t from 'tap'
import { run, type Io } from '../../src/cli/main.js'
import { WEBHOOK_TYPES } from '../../reactors/lifecycle-webhooks.js'
import type { EventType } from '../../src/domain/events.js'
import { RETRY_WINDOW_MS } from '../../src/react/outbox.js'
import { sign, webhookTransport } from '../../src/react/webhook-transport.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, OWNER, START, startApp } from '../support/app.js'
import { ManualScheduler, settle, TestReceiver } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const DAY = 86_400_000
const SECRET = 'whsec_test_0123456789abcdef'
const TOKENS = '/v3/stacks/management_tokens'

interface Body {
  id: string
  type: string
  event: string | null
  stack: string
  sequence: number | null
  data: Record<string, unknown>
}

t.test('lifecycle webhooks: signed, in stream order per stack, retried on 500, expiry notice and derived expiry, dead then resent by the CLI', async (t) => {
  const scheduler = new ManualScheduler()
  let nowSeconds = () => Math.floor(START.getTime() / 1000)
  const receiver = await new TestReceiver(SECRET, () => nowSeconds()).start()
  t.teardown(() => receiver.stop())
  receiver.answer = (n) => (n <= 2 ? 500 : 200) // the first two requests fail
  const a = await startApp(t, { clock: true, scheduler, config: { webhookUrl: receiver.url, webhookSecret: SECRET } })
  nowSeconds = () => Math.floor(a.clock!.now().getTime() / 1000)
  const shown = `${new URL(receiver.url).origin}/…`
  t.match(a.service.notifications.summary, `lifecycle webhooks to ${shown}`, 'the receiver shown by its origin only')

  const s1 = await a.createStack(OWNER, 'One')
  const s2 = await a.createStack(OWNER, 'Two')
  await a.share(s1, OWNER, ADMIN, ['admin'])
  const soon = new Date(START.getTime() + 2 * DAY).toISOString()
  const x = await a.generate(s1, OWNER, { name: 'x', expires_on: soon, is_email_notification_enabled: true })
  const y = await a.generate(s2, OWNER, { name: 'y' })
  t.equal((await a.call({ method: 'PUT', url: `${TOKENS}/${x.uid}`, as: OWNER, apiKey: s1, body: { token: { name: 'x2' } } })).statusCode, 200)
  t.equal((await a.call({ method: 'POST', url: `${TOKENS}/${x.uid}/rotate`, as: OWNER, apiKey: s1, body: {} })).statusCode, 200)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${y.uid}`, as: OWNER, apiKey: s2 })).statusCode, 200)
  t.equal((await a.call({ method: 'POST', url: '/v3/stacks/unshare', as: OWNER, apiKey: s1, body: { email: ADMIN } })).statusCode, 200)
  // The notice is due at once (2 days < 7): it is a lifecycle fact too.
  for (let i = 0; i < 6; i += 1) {
    await settle(a, scheduler)
    a.clock!.advance(1000 * 2 ** i)
  }
  await settle(a, scheduler)

  const streamIds = async (apiKey: string) => (await a.service.store.readStream(stackStream(apiKey))).map((e) => e.id)
  const delivered = (apiKey: string) => [...receiver.processed.values()].map((b) => b as Body).filter((b) => b.stack === apiKey)
  await waitFor(async () => delivered(s1).length === (await streamIds(s1)).length && delivered(s2).length === (await streamIds(s2)).length, { label: 'every event delivered' })
  t.same(delivered(s1).map((b) => b.id), await streamIds(s1), 'stack One: every event, in stream order, delivery id = event id')
  t.same(delivered(s2).map((b) => b.id), await streamIds(s2), 'stack Two: the same')
  const streamTypes = async (apiKey: string) => (await a.service.store.readStream(stackStream(apiKey))).map((e) => WEBHOOK_TYPES[e.type as EventType])
  t.same(delivered(s1).map((b) => b.type), await streamTypes(s1))
  t.same(new Set(delivered(s1).map((b) => b.type)), new Set(['stack.created', 'member.shared', 'token.generated', 'token.changed', 'token.rotated', 'member.unshared', 'token.expiry_notice']))
  t.same(delivered(s2).map((b) => b.type), ['stack.created', 'token.generated', 'token.revoked'])
  t.same(delivered(s1).map((b) => b.sequence), [0, 1, 2, 3, 4, 5, 6])
  t.ok(receiver.received.every((r) => r.verified), 'every signature verified')
  t.same(receiver.received.slice(0, 2).map((r) => r.status), [500, 500])
  t.equal(receiver.received[2]!.id, receiver.received[0]!.id, 'the failed delivery was retried with the same id before anything after it in its stack')
  t.match(delivered(s1).find((b) => b.type === 'token.expiry_notice')!.data, { token_uid: x.uid, expires_on: soon, recipients: Array })
  for (const r of receiver.received) t.notMatch(r.body, /_hash/, 'no hash field')

  // Past the expiry: token.expired, derived by the reactor from time (no event in the stack).
  a.clock!.set(new Date(Date.parse(soon)))
  await settle(a, scheduler)
  await waitFor(() => delivered(s1).some((b) => b.type === 'token.expired'), { label: 'token.expired' })
  const expired = delivered(s1).find((b) => b.type === 'token.expired')!
  t.match(expired, { event: null, sequence: null, data: { token_uid: x.uid, name: 'x2', expires_on: soon } })
  a.clock!.advance(DAY)
  await settle(a, scheduler)
  t.equal(delivered(s1).filter((b) => b.type === 'token.expired').length, 1, 'once per expiry value')

  // Replays: the same delivery again is harmless (the receiver keeps one per id); an old signature is refused.
  const before = receiver.processed.size
  const again = receiver.received.find((r) => r.status === 200)!
  const { status } = await webhookTransport(receiver.url, SECRET).post(again.id, again.body, a.clock!.now())
  t.equal(status, 200)
  t.equal(receiver.processed.size, before, 'a repeated delivery id changes nothing at the receiver')
  a.clock!.advance(10 * 60_000)
  const late = await fetch(receiver.url, {
    method: 'POST',
    headers: { 'management-tokens-delivery': again.id, 'management-tokens-signature': again.signature, 'content-type': 'application/json' },
    body: again.body,
  })
  t.equal(late.status, 400, 'a captured request replayed 10 minutes later is refused')
  const forged = await fetch(receiver.url, {
    method: 'POST',
    headers: { 'management-tokens-signature': sign('wrong-secret', nowSeconds(), again.body) },
    body: again.body,
  })
  t.equal(forged.status, 400, 'a wrong secret is refused')

  // A receiver that keeps failing: logged with target and status, dead after the retry window.
  receiver.answer = () => 503
  const z = await a.generate(s2, OWNER, { name: 'z' })
  await settle(a, scheduler)
  for (let elapsed = 0; elapsed <= RETRY_WINDOW_MS + 3_600_000; elapsed += 3_600_000) {
    a.clock!.advance(3_600_000)
    await settle(a, scheduler)
  }
  const dead = a.service.notifications.outbox.list('dead')
  t.equal(dead.length, 1, 'one dead delivery')
  t.match(dead[0], { channel: 'webhook', kind: 'token.generated', last_error: /503/ })
  t.match(a.logs().find((l) => l.msg === 'delivery failed; will retry' && l.status === '503'), { channel: 'webhook', target: shown })
  t.ok(a.logs().some((l) => l.msg === 'delivery failed; retry window spent, kept as dead'))
  t.match(await a.service.metrics.metrics(), /outbox_deliveries_total\{channel="webhook",outcome="dead"\} 1/)

  const out: string[] = []
  const err: string[] = []
  const io: Io = { out: (s) => void out.push(s), err: (s) => void err.push(s), env: { DATA_DIR: a.dataDir, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET } }
  t.equal(await run(['deliveries', 'list', '--json'], io), 0)
  t.match(JSON.parse(out.join('')), { id: dead[0]!.id, status: 'dead', kind: 'token.generated', stack: s2 })
  receiver.answer = () => 200
  nowSeconds = () => Math.floor(Date.now() / 1000) // the CLI signs with the real clock
  out.length = 0
  t.equal(await run(['deliveries', 'resend', '--all'], io), 0, err.join(''))
  t.match(out.join(''), `${dead[0]!.id}  delivered`)
  t.match((receiver.processed.get(dead[0]!.id) as Body).data, { token_uid: z.uid })
  t.equal(await run(['deliveries', 'resend', dead[0]!.id], io), 1, 'not dead any more')
  t.match(err.join(''), /is not a dead delivery/)
  out.length = 0
  t.equal(await run(['deliveries', 'list', '--status', 'sent'], io), 0)
  t.match(out.join(''), /^ID\s+CHANNEL\s+STATUS/)
  t.equal(await run(['deliveries', 'resend'], io), 2, 'ids or --all')
  t.equal(await run(['deliveries', 'list', '--status', 'nope'], io), 2)
})
