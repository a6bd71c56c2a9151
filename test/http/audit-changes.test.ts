import { createHash } from 'node:crypto'
import t from 'tap'
import { ADMIN, OWNER, READ_ENTRIES, startApp, type TestApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

interface Entry {
  readonly uid: string
  readonly event_type: string
  readonly metadata: { readonly uid: string; readonly changed?: string[]; readonly before?: object; readonly after?: object; readonly reason?: string }
}
const logs = async (a: TestApp, apiKey: string, query = ''): Promise<Entry[]> =>
  (await a.call({ method: 'GET', url: `/v3/audit-logs?limit=100${query}`, as: OWNER, apiKey })).json().logs

t.test('an update entry says what changed, from what and to what; a revocation says why', async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const tok = await a.generate(apiKey, OWNER, { name: 'ci', rate_limit: { read: 10, write: 10 }, expires_on: '2027-01-01' })
  const put = async (token: object) => {
    const res = await a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: ADMIN, apiKey, body: { token } })
    t.equal(res.statusCode, 200, res.body)
  }
  await put({ rate_limit: { read: 5, write: 10 } })
  await put({ name: 'ci', description: 'nightly' }) // the name is sent unchanged: only the description changed
  await put({ scope: [{ module: 'asset', acl: { read: true, write: true } }], expires_on: null, is_email_notification_enabled: true })
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).statusCode, 200)

  const updates = await logs(a, apiKey, '&event_type=update')
  t.same(
    updates.map((e) => e.metadata).reverse(),
    [
      { uid: tok.uid, title: 'ci', changed: ['rate_limit'], before: { rate_limit: { read: 10, write: 10 } }, after: { rate_limit: { read: 5, write: 10 } } },
      { uid: tok.uid, title: 'ci', changed: ['description'], before: { description: '' }, after: { description: 'nightly' } },
      { uid: tok.uid, title: 'ci', changed: ['scope'], before: { scope: READ_ENTRIES }, after: { scope: [{ module: 'asset', acl: { read: true, write: true } }] } },
      { uid: tok.uid, title: 'ci', changed: ['expires_on'], before: { expires_on: '2027-01-01T00:00:00.000Z' }, after: { expires_on: null } },
      { uid: tok.uid, title: 'ci', changed: ['is_email_notification_enabled'], before: { is_email_notification_enabled: false }, after: { is_email_notification_enabled: true } },
    ],
    'one entry per changed field group, with only the fields that changed',
  )
  const [revoked] = await logs(a, apiKey, '&event_type=delete')
  t.same(revoked?.metadata, { uid: tok.uid, title: 'ci', reason: 'user' }, 'a revocation by DELETE: reason user')
  const one = await a.call({ method: 'GET', url: `/v3/audit-logs/${updates[0]?.uid}`, as: OWNER, apiKey })
  t.same(one.json().log, updates[0], 'one entry reads the same')
  const created = (await logs(a, apiKey, '&event_type=create')).find((e) => e.metadata.uid === tok.uid)
  t.same(created?.metadata, { uid: tok.uid, title: 'ci' }, 'other entries carry no change')
})

t.test('no audit entry holds a secret or its hash, whatever happened to the token', async (t) => {
  const a = await startApp(t, { clock: true })
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER, { name: 'watched' })
  const secrets = [tok.secret]
  const rotate = async (grace: number) => {
    const res = await a.call({ method: 'POST', url: `${TOKENS}/${tok.uid}/rotate`, as: OWNER, apiKey, body: { previous_expires_in_seconds: grace } })
    t.equal(res.statusCode, 200, res.body)
    secrets.push(res.json().token.token)
  }
  await rotate(3600)
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}/previous_secret`, as: OWNER, apiKey })).statusCode, 200)
  await rotate(0)
  await a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: { token: { name: 'watched-2', rate_limit: { read: 1, write: 1 } } } })
  t.equal((await a.call({ method: 'DELETE', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).statusCode, 200)

  const entries = await logs(a, apiKey)
  t.same(
    entries.map((e) => e.event_type).reverse(),
    ['create', 'create', 'rotate', 'end_rotation_grace', 'rotate', 'update', 'update', 'delete'],
    'every kind of token entry is scanned',
  )
  const singles = await Promise.all(entries.map(async (e) => (await a.call({ method: 'GET', url: `/v3/audit-logs/${e.uid}`, as: OWNER, apiKey })).body))
  const text = JSON.stringify(entries) + singles.join('')
  t.equal(secrets.length, 3)
  for (const [i, secret] of secrets.entries()) {
    t.notOk(text.includes(secret), `secret ${i + 1} is in no entry`)
    t.notOk(text.includes(sha256(secret)), `nor its SHA-256`)
  }
  t.notMatch(text, /cs[0-9a-f]{32}|[0-9a-f]{64}|hash|secret/i, 'nothing shaped like a secret or a digest, and no such field')
})
