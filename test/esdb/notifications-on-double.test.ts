/**
 * The expiry reactor on EventStoreDB (real client, in-process gRPC test double): two instances
 * sharing the store record one notice and deliver one mail; webhooks follow the stream order.
 */
import t from 'tap'
import { noticeMessageId } from '../../reactors/expiry-mail.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, OWNER, START, startApp, type TestApp } from '../support/app.js'
import { startEsdbDouble } from '../support/esdb-double.js'
import { ManualScheduler, settle, TestReceiver, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const DAY = 86_400_000
const SECRET = 'whsec_on_the_double_0123456789'

t.test('on EventStoreDB: two instances, one notice, one mail; webhooks in stream order', async (t) => {
  const double = await startEsdbDouble()
  t.teardown(() => double.stop())
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const receiver = await new TestReceiver(SECRET, () => Math.floor(a.clock!.now().getTime() / 1000)).start()
  t.teardown(() => receiver.stop())
  const sa = new ManualScheduler()
  const sb = new ManualScheduler()
  const a: TestApp = await startApp(t, { clock: true, scheduler: sa, eventStoreUrl: double.url, config: { smtpUrl: smtp.url, webhookUrl: receiver.url, webhookSecret: SECRET } })
  const b = await startApp(t, { clock: true, scheduler: sb, eventStoreUrl: double.url, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER)
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const { uid } = await a.generate(apiKey, OWNER, { expires_on: new Date(START.getTime() + 9 * DAY).toISOString(), is_email_notification_enabled: true })
  const head = async () => (await a.service.store.readStream(stackStream(apiKey))).at(-1)!.position
  let last = await head()
  await Promise.all([settle(a, sa, last, 15_000), settle(b, sb, last, 15_000)])
  a.clock!.advance(2 * DAY)
  b.clock!.advance(2 * DAY)
  await Promise.all([settle(a, sa, last, 15_000), settle(b, sb, last, 15_000)])
  await waitFor(() => smtp.mails.length === 1, { label: 'one mail', timeoutMs: 15_000 })
  last = await head()
  await Promise.all([settle(a, sa, last, 15_000), settle(b, sb, last, 15_000)])
  const events = await a.service.store.readStream(stackStream(apiKey))
  const notices = events.filter((e) => e.type === 'TokenExpiryNotified')
  t.equal(notices.length, 1, 'one notice in the stream')
  t.equal(smtp.mails.length, 1, 'one mail')
  t.equal(smtp.mails[0]!.parsed.messageId, noticeMessageId(notices[0]!.id))
  t.match(smtp.mails[0]!.parsed.text, uid)
  await waitFor(() => receiver.processed.size === events.length, { label: 'webhooks', timeoutMs: 15_000 })
  t.same([...receiver.processed.keys()], events.map((e) => e.id), 'every event, in stream order')
})
