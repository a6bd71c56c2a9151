import { createHmac } from 'node:crypto'
import t from 'tap'
import { redactUrl } from '../../src/react/mail-transport.js'
import { backoffMs } from '../../src/react/outbox.js'
import { sign } from '../../src/react/webhook-transport.js'
import { verifySignature } from '../support/notifications.js'

t.test('targets in logs and start-up messages hold no credential', async (t) => {
  t.equal(redactUrl('smtp://user:hunter2hunter2@mail.example.com:587'), 'smtp://***@mail.example.com:587')
  t.equal(redactUrl('https://hooks.example.com/in?token=abc#x'), 'https://hooks.example.com/in')
  t.equal(redactUrl('smtp://127.0.0.1:2525'), 'smtp://127.0.0.1:2525')
})

t.test('signature: t=<seconds>,v1=<hex HMAC-SHA256 over "t.body">, checked by the README receiver', async (t) => {
  const body = '{"id":"1"}'
  const header = sign('s3cret-s3cret-s3cret', 1_700_000_000, body)
  t.equal(header, `t=1700000000,v1=${createHmac('sha256', 's3cret-s3cret-s3cret').update(`1700000000.${body}`).digest('hex')}`)
  t.ok(verifySignature('s3cret-s3cret-s3cret', header, body, 1_700_000_100))
  t.notOk(verifySignature('s3cret-s3cret-s3cret', header, `${body} `, 1_700_000_100), 'another body')
  t.notOk(verifySignature('s3cret-s3cret-s3cret', header, body, 1_700_000_301), 'outside the tolerance')
  t.notOk(verifySignature('other-secret-value', header, body, 1_700_000_000), 'another secret')
  t.notOk(verifySignature('s3cret-s3cret-s3cret', 'v1=00', body, 1_700_000_000), 'no timestamp')
})

t.test('backoff doubles from 1 s and stops growing at an hour', async (t) => {
  t.same([1, 2, 3, 4, 13, 40].map(backoffMs), [1000, 2000, 4000, 8000, 3_600_000, 3_600_000])
})
