/**
 * A leaked token's revocation tells the stack's owner and admins: one mail (real SMTP server)
 * and one `token.leaked` webhook (real receiver), neither holding the secret or its hash, however
 * often the secret is reported.
 */
import { join } from 'node:path'
import t from 'tap'
import { leakMessageId } from '../../reactors/leak-mail.js'
import { hashSecret } from '../../src/domain/secret.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { ADMIN, DEVELOPER, OWNER, START, startApp } from '../support/app.js'
import { lastPosition, ManualScheduler, settle, TestReceiver, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const SECRET = 'whsec_test_0123456789abcdef'
const URL_FOUND = 'https://github.com/octo/site/blob/4f2a/deploy.yml'

t.test('a leaked token: one mail to owner and admins and one token.leaked webhook, no secret in either', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const receiver = await new TestReceiver(SECRET, () => Math.floor(START.getTime() / 1000)).start()
  t.teardown(() => receiver.stop())
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url, webhookUrl: receiver.url, webhookSecret: SECRET } })
  const apiKey = await a.createStack(OWNER, 'Site')
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  const tok = await a.generate(apiKey, OWNER, { name: 'deploy bot' })
  const report = JSON.stringify([{ token: tok.secret, type: 'contentstack_management_token', url: URL_FOUND, source: 'commit' }])
  // Reported twice: the second finds the token revoked and does nothing.
  for (let i = 0; i < 2; i += 1) {
    const res = await a.app.inject({ method: 'POST', url: '/v3/leaked-secrets', headers: { 'content-type': 'application/json' }, payload: report })
    t.equal(res.statusCode, 202)
    await a.app.leakedSecrets.idle()
  }
  const stream = await a.service.store.readStream(stackStream(apiKey))
  const revoked = stream.filter((e) => e.type === 'TokenRevoked')
  t.equal(revoked.length, 1)
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length >= 1 && receiver.processed.size >= stream.length, { label: 'mail and webhooks delivered' })
  await settle(a, scheduler)

  t.equal(smtp.mails.length, 1, 'one mail')
  const mail = smtp.mails[0]!
  t.equal(mail.parsed.messageId, leakMessageId(revoked[0]!.id))
  t.same(mail.envelopeTo.sort(), [ADMIN, OWNER], 'the owner and the admin, not the developer')
  t.match(mail.parsed.subject, /"deploy bot" of stack "Site" was revoked: its secret was reported leaked/)
  t.match(mail.parsed.text, URL_FOUND)
  t.match(mail.parsed.text, /Reported source: commit/)
  const raw = mail.raw.toString('utf8')
  t.equal(raw.indexOf(tok.secret.slice(2)), -1, 'no secret in the mail')
  t.equal(raw.indexOf(hashSecret(tok.secret)), -1, 'nor its hash')

  const leaked = receiver.received.filter((r) => (JSON.parse(r.body) as { type: string }).type === 'token.leaked')
  t.equal(leaked.length, 1, 'one token.leaked webhook')
  t.ok(leaked[0]!.verified, 'signed')
  t.match(JSON.parse(leaked[0]!.body), {
    type: 'token.leaked',
    event: 'TokenRevoked',
    actor: 'system',
    data: { token_uid: tok.uid, reason: 'leaked', report: { url: URL_FOUND, source: 'commit', signed: false } },
  })
  t.notOk(receiver.received.some((r) => (JSON.parse(r.body) as { type: string }).type === 'token.revoked'), 'reported as token.leaked, not also as token.revoked')
  for (const r of receiver.received) {
    t.equal(r.body.indexOf(tok.secret.slice(2)), -1, 'no secret in any webhook')
    t.equal(r.body.indexOf(hashSecret(tok.secret)), -1, 'nor its hash')
  }
})

t.test('two instances on one store, both reported the same secret at once: one revocation, one mail', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const [sa, sb] = [new ManualScheduler(), new ManualScheduler()]
  const a = await startApp(t, { clock: true, scheduler: sa, logLevel: 'debug', config: { smtpUrl: smtp.url } })
  const b = await startApp(t, { clock: true, scheduler: sb, logLevel: 'debug', eventStoreUrl: `sqlite:${join(a.dataDir, 'events.db')}`, config: { smtpUrl: smtp.url } })
  const apiKey = await a.createStack(OWNER, 'Site')
  const tok = await a.generate(apiKey, OWNER, { name: 'ci' })
  // b's read models hold the token too, so both instances find it and both ask to revoke it.
  await b.service.projector.waitFor(await lastPosition(a))
  const body = JSON.stringify({ token: tok.secret })
  const ask = (x: typeof a) => x.app.inject({ method: 'POST', url: '/v3/leaked-secrets', headers: { 'content-type': 'application/json' }, payload: body })
  t.same((await Promise.all([ask(a), ask(b)])).map((r) => r.statusCode), [202, 202])
  await Promise.all([a.app.leakedSecrets.idle(), b.app.leakedSecrets.idle()])
  await Promise.all([settle(a, sa), settle(b, sb)])
  await waitFor(() => smtp.mails.length >= 1, { label: 'the mail' })
  await Promise.all([settle(a, sa), settle(b, sb)])
  const revoked = (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === 'TokenRevoked')
  t.equal(revoked.length, 1, 'one revocation')
  t.equal(smtp.mails.length, 1, 'one mail, from the instance whose append recorded it')
  t.equal(a.service.notifications.outbox.list().length + b.service.notifications.outbox.list().length, 1, 'in one outbox')
  const said = [...a.logs(), ...b.logs()].map((l) => String(l.msg))
  t.equal(said.filter((m) => m === 'token revoked: its secret was reported leaked').length, 1, 'one instance revoked it')
  t.equal(said.filter((m) => m === 'leaked token not revoked').length, 1, 'the other found it revoked: the domain refused the second')
})
