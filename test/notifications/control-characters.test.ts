import t from 'tap'
import { stackStream } from '../../src/eventstore/streams.js'
import { OWNER, START, startApp, uidOf } from '../support/app.js'
import { ManualScheduler, settle, TestSmtp } from '../support/notifications.js'
import { waitFor } from '../support/wait-for.js'

const DAY = 86_400_000
const API_KEY = 'blt00000000000000c1'
const TOKEN = 'blt00000000000000c2'
const TOKEN_NAME = 'deploy\r\nBcc: evil@example.com\r\n\r\nInjected line\u001b[2J\u202e'
const STACK_NAME = 'Site\nSecond line\u0085'

t.test('a notice for names stored before they were checked carries no injected line or header, over real SMTP', async (t) => {
  const smtp = await new TestSmtp().start()
  t.teardown(() => smtp.stop())
  const scheduler = new ManualScheduler()
  const a = await startApp(t, { clock: true, scheduler, config: { smtpUrl: smtp.url } })
  // As old data would be: straight into the store, past the checks of today's API.
  const metadata = { actor: uidOf(OWNER), actor_email: OWNER, occurred_at: START.toISOString(), request_id: 'req-old', remote_addr: '10.0.0.1', schema_version: 1 }
  const expires = new Date(START.getTime() + 3 * DAY).toISOString()
  const events = [
    { type: 'StackCreated', data: { api_key: API_KEY, name: STACK_NAME, description: '', owner_email: OWNER, owner_uid: uidOf(OWNER) } },
    {
      type: 'TokenGenerated',
      data: {
        api_key: API_KEY,
        token_uid: TOKEN,
        name: TOKEN_NAME,
        description: '',
        scope: [{ module: 'entry', acl: { read: true, write: false } }],
        expires_on: expires,
        rate_limit: null,
        is_email_notification_enabled: true,
        secret_hash: 'c'.repeat(64),
      },
    },
  ]
  const stored = await a.service.store.append(stackStream(API_KEY), events.map((e, i) => ({ id: `old-${i}`, ...e, metadata })), 'no_stream')
  t.equal(stored._tag, 'Right')
  await settle(a, scheduler)
  await waitFor(() => smtp.mails.length > 0, { label: 'mail over SMTP' })
  t.equal(smtp.mails.length, 1)
  const mail = smtp.mails[0]!
  t.same(mail.envelopeTo, [OWNER], 'sent to the owner alone: no Bcc header reached the envelope')
  t.notOk(mail.parsed.headers.has('bcc'), 'no Bcc header')
  const lines = (mail.parsed.text ?? '').split('\n')
  t.notOk(lines.some((l) => /^(Bcc:|Injected line|Second line)/.test(l)), 'no line starts with text from a name')
  t.match(lines[0], /^The management token "deploy\\r\\nBcc: evil@example\.com\\r\\n\\r\\nInjected line\\x1b\[2J\\u202e" \(uid blt00000000000000c2\) of the stack "Site\\nSecond line\\x85"/, 'the names, escaped, on the first line')
  t.match(mail.parsed.subject, /^Management token "deploy\\r\\nBcc: .*\\u202e" of stack "Site\\nSecond line\\x85" expires on /)
  t.notMatch(`${mail.parsed.subject}\n${mail.parsed.text}`, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, 'no control or bidi character in the subject or body')
})
