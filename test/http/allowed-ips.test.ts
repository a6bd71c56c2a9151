import t from 'tap'
import { OWNER, startApp } from '../support/app.js'

const TOKENS = '/v3/stacks/management_tokens'

t.test('allowed_ips on create and PUT: stored canonical, returned on the token, audited with before and after', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const tok = await a.generate(apiKey, OWNER, { allowed_ips: ['10.0.0.1/32', '2001:DB8::/32', '::ffff:192.0.2.7'] })
  t.same((tok.body.token as { allowed_ips: string[] }).allowed_ips, ['10.0.0.1', '2001:db8::/32', '192.0.2.7'], 'canonical in the create answer')
  const plain = await a.generate(apiKey, OWNER)
  t.same((plain.body.token as { allowed_ips: string[] }).allowed_ips, [], 'absent: empty, any address')
  const fetched = async () => (await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token.allowed_ips
  t.same(await fetched(), ['10.0.0.1', '2001:db8::/32', '192.0.2.7'])

  const put = (token: object) => a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: { token } })
  const before = await a.eventTypes(apiKey)
  const same = await put({ allowed_ips: ['192.0.2.7', '10.0.0.1', '2001:db8::/32'] })
  t.equal(same.statusCode, 200)
  t.same(await a.eventTypes(apiKey), before, 'the same entries in another order: no event')
  const narrowed = await put({ allowed_ips: ['10.0.0.0/24'] })
  t.equal(narrowed.statusCode, 200)
  t.same(narrowed.json().token.allowed_ips, ['10.0.0.0/24'], 'PUT replaces the list')
  t.equal((await put({ allowed_ips: null })).json().token.allowed_ips.length, 0, 'null: any address')

  const logs = (await a.call({ method: 'GET', url: '/v3/audit-logs?event_type=update', as: OWNER, apiKey })).json().logs
  t.same(
    logs.map((e: { metadata: object }) => e.metadata).reverse(),
    [
      { uid: tok.uid, title: tok.body.token && (tok.body.token as { name: string }).name, changed: ['allowed_ips'], before: { allowed_ips: ['10.0.0.1', '2001:db8::/32', '192.0.2.7'] }, after: { allowed_ips: ['10.0.0.0/24'] } },
      { uid: tok.uid, title: (tok.body.token as { name: string }).name, changed: ['allowed_ips'], before: { allowed_ips: ['10.0.0.0/24'] }, after: { allowed_ips: [] } },
    ],
    'the audit diff',
  )
  t.notMatch(JSON.stringify(logs), tok.secret, 'no secret in the audit log')
})

t.test('a bad list is a 422 naming the entry, and changes nothing', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const create = (allowed_ips: unknown) =>
    a.call({ method: 'POST', url: TOKENS, as: OWNER, apiKey, body: { token: { name: 'x', scope: [{ module: 'entry', acl: { read: true } }], allowed_ips } } })
  const bad = await create(['192.0.2.1', '10.0.0.0/33', ' 10.0.0.1', '10.0.0.5/8', '192.0.2.1/32'])
  t.equal(bad.statusCode, 422)
  t.equal(bad.json().error_code, 119)
  t.same(bad.json().errors, {
    'token.allowed_ips[1]': ['has a prefix length above 32'],
    'token.allowed_ips[2]': ['is not an IPv4 or IPv6 address or CIDR range'],
    'token.allowed_ips[3]': ['has host bits set; the network is 10.0.0.0/8'],
    'token.allowed_ips[4]': ['repeats allowed_ips[0] (192.0.2.1)'],
  })
  t.equal((await create(Array.from({ length: 51 }, (_, i) => `10.${i}.0.0/16`))).statusCode, 422, '51 entries')
  t.equal((await create([42])).statusCode, 422, 'not a string')
  t.equal((await create('10.0.0.1')).statusCode, 422, 'not a list')
  t.same(await a.eventTypes(apiKey), ['StackCreated'], 'no event from invalid input')

  const tok = await a.generate(apiKey, OWNER, { allowed_ips: ['192.0.2.1'] })
  const put = await a.call({ method: 'PUT', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey, body: { token: { name: 'renamed', allowed_ips: ['::g'] } } })
  t.equal(put.statusCode, 422)
  t.same(put.json().errors, { 'token.allowed_ips[0]': ['is not an IPv4 or IPv6 address or CIDR range'] })
  const now = (await a.call({ method: 'GET', url: `${TOKENS}/${tok.uid}`, as: OWNER, apiKey })).json().token
  t.same([now.name, now.allowed_ips], [(tok.body.token as { name: string }).name, ['192.0.2.1']], 'the whole PUT refused: nothing changed')
})

t.test('the management API: a token reading the audit log is held to its list (the peer, here 127.0.0.1)', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack()
  const auditor = (allowed_ips: string[]) => a.generate(apiKey, OWNER, { scope: [{ module: 'audit_log', acl: { read: true } }], allowed_ips })
  const read = async (secret: string) => a.call({ method: 'GET', url: '/v3/audit-logs', apiKey, headers: { authorization: secret } })
  t.equal((await read((await auditor(['127.0.0.0/8'])).secret)).statusCode, 200, 'from the list')
  const out = await read((await auditor(['192.0.2.1'])).secret)
  t.equal(out.statusCode, 403)
  t.same(out.json().errors, { client_address: ['is not in allowed_ips'] })
})
