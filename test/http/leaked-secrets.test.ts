/**
 * POST /v3/leaked-secrets over the real service: GitHub's signed reports (a P-256 key made here),
 * a holder's unsigned {token}, and the same 202 whatever was reported. Revocations run after the
 * answer; `app.leakedSecrets.idle()` says when they are done.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import t, { type Test } from 'tap'
import { hashSecret } from '../../src/domain/secret.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { keyIdentifier } from '../../src/scanning-keys.js'
import { ADMIN, OWNER, STRANGER, startApp, type TestApp } from '../support/app.js'

const URL_FOUND = 'https://github.com/octo/site/blob/4f2a/config/deploy.yml'
const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })

/** GitHub's headers for `body`: the key's identifier and its base64 DER signature of the bytes. */
const signed = (privateKey: KeyObject, keyId: string, body: string) => ({
  'content-type': 'application/json',
  'github-public-key-identifier': keyId,
  'github-public-key-signature': sign('sha256', Buffer.from(body), { key: privateKey, dsaEncoding: 'der' }).toString('base64'),
})

const setup = async (t: Test, withKeys = true) => {
  const key = p256()
  const keyId = keyIdentifier(key.publicKey)
  const a = await startApp(t, { clock: true, config: withKeys ? { secretScanningKeys: { keys: new Map([[keyId, key.publicKey]]) } } : {} })
  const apiKey = await a.createStack()
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  const tok = await a.generate(apiKey, OWNER)
  const post = (body: string, headers: Record<string, string>, remoteAddress = '198.51.100.1') =>
    a.app.inject({ method: 'POST', url: '/v3/leaked-secrets', headers: { 'content-type': 'application/json', ...headers }, payload: body, remoteAddress })
  const github = (tokens: string[]) => JSON.stringify(tokens.map((token) => ({ token, type: 'contentstack_management_token', url: URL_FOUND, source: 'content' })))
  const forward = (secret: string) =>
    a.app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' } })
  const events = async (k = apiKey) => (await a.service.store.readStream(stackStream(k))).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }))
  return { a, key, keyId, apiKey, tok, post, github, forward, events }
}

/** What a 202 shows, request id and date aside. */
const shape = (res: { statusCode: number; body: string; headers: Record<string, unknown> }) => {
  const { 'x-request-id': _id, date: _date, ...headers } = res.headers
  return { status: res.statusCode, body: res.body, headers }
}

const settled = async (a: TestApp) => a.app.leakedSecrets.idle()

t.test('a signed report revokes its token (reason leaked, with url and source); the secret stops working', async (t) => {
  const s = await setup(t)
  t.equal((await s.forward(s.tok.secret)).statusCode, 200)
  const body = s.github([s.tok.secret])
  const res = await s.post(body, signed(s.key.privateKey, s.keyId, body))
  t.equal(res.statusCode, 202, res.body)
  t.same(res.json(), { notice: '1 report received.' })
  await settled(s.a)
  const revoked = (await s.events()).filter((e) => e.type === 'TokenRevoked')
  t.same(revoked.map((e) => e.data), [
    { api_key: s.apiKey, token_uid: s.tok.uid, reason: 'leaked', report: { url: URL_FOUND, source: 'content', signed: true }, recipients: [ADMIN, OWNER].sort() },
  ])
  t.notMatch(JSON.stringify(await s.events()), s.tok.secret, 'the secret is in no event')
  t.equal((await s.forward(s.tok.secret)).statusCode, 401, 'the secret no longer works')

  const audit = await s.a.call({ method: 'GET', url: '/v3/audit-logs?event_type=delete', as: OWNER, apiKey: s.apiKey })
  const entry = (audit.json() as { logs: Array<{ created_by: string; remote_addr: string; metadata: Record<string, unknown> }> }).logs[0]
  t.match(entry?.metadata, { uid: s.tok.uid, reason: 'leaked', report: { url: URL_FOUND, source: 'content', signed: true } }, 'the audit log shows reason and report')
  t.equal(entry?.created_by, 'system')
  t.equal(entry?.remote_addr, '198.51.100.1', "the reporter's address")
  t.notMatch(audit.body, s.tok.secret)
  t.notMatch(audit.body, hashSecret(s.tok.secret))
})

t.test('without a verifying signature the signed form is 401 and nothing is appended', async (t) => {
  const s = await setup(t)
  const body = s.github([s.tok.secret])
  const other = p256()
  const before = await s.events()
  const valid = signed(s.key.privateKey, s.keyId, body)
  const cases: Array<[string, Record<string, string>, string]> = [
    ['no headers', { 'content-type': 'application/json' }, body],
    ['no signature', { 'content-type': 'application/json', 'github-public-key-identifier': s.keyId }, body],
    ['forged: signed by another key under our key id', signed(other.privateKey, s.keyId, body), body],
    ['unknown key id', signed(s.key.privateKey, keyIdentifier(other.publicKey), body), body],
    ['signature over a different body', signed(s.key.privateKey, s.keyId, s.github(['cs' + '0'.repeat(40)])), body],
    ['a valid signature replayed with another body', valid, s.github([s.tok.secret, s.tok.secret])],
    ['a body changed by one byte (whitespace)', valid, `${body} `],
    ['garbage signature', { ...valid, 'github-public-key-signature': 'not-base64-!!' }, body],
  ]
  for (const [name, headers, sent] of cases) {
    const res = await s.post(sent, headers)
    t.equal(res.statusCode, 401, name)
    t.equal(res.json().error_code, 105, `${name}: error_code`)
    t.ok(Object.keys(res.json().errors)[0]?.startsWith('github-public-key-'), `${name}: names the header`)
  }
  await settled(s.a)
  t.same(await s.events(), before, 'nothing appended')
  t.equal((await s.forward(s.tok.secret)).statusCode, 200, 'the token still works')
})

t.test('the unsigned {token} form revokes, keys or not; the api_key header plays no part', async (t) => {
  const s = await setup(t)
  const other = await s.a.createStack(STRANGER, 'Other')
  const theirs = await s.a.generate(other, STRANGER)
  const res = await s.post(JSON.stringify({ token: theirs.secret }), { api_key: s.apiKey })
  t.equal(res.statusCode, 202)
  await settled(s.a)
  const revoked = (await s.events(other)).filter((e) => e.type === 'TokenRevoked')
  t.same(revoked.map((e) => e.data.report), [{ url: null, source: null, signed: false }], "another stack's token, reported with a wrong api_key: revoked")
  t.equal((await s.events()).filter((e) => e.type === 'TokenRevoked').length, 0, 'nothing on the stack the header named')
})

t.test('known, unknown, revoked and malformed secrets get the same 202; only the known one is revoked', async (t) => {
  const s = await setup(t)
  const gone = await s.a.generate(s.apiKey, OWNER)
  t.equal((await s.a.call({ method: 'DELETE', url: `/v3/stacks/management_tokens/${gone.uid}`, as: OWNER, apiKey: s.apiKey })).statusCode, 200)
  const before = (await s.events()).length
  const badChecksum = s.tok.secret.slice(0, -1) + (s.tok.secret.endsWith('0') ? '1' : '0')
  const answers = []
  for (const token of ['cs' + 'ab'.repeat(20), gone.secret, badChecksum, 'not a secret', '', s.tok.secret]) {
    const body = s.github([token])
    answers.push(shape(await s.post(body, signed(s.key.privateKey, s.keyId, body))))
    answers.push(shape(await s.post(JSON.stringify({ token }), {})))
  }
  t.equal(new Set(answers.map((x) => JSON.stringify(x))).size, 1, `one answer for all: ${JSON.stringify(answers[0])}`)
  await settled(s.a)
  const after = await s.events()
  t.same(after.slice(before).map((e) => [e.type, e.data.token_uid]), [['TokenRevoked', s.tok.uid]], 'one revocation, of the known live token, however often reported')
})

t.test('10,000 reports in one request are all looked at; 10,001 are refused with nothing done', async (t) => {
  const s = await setup(t)
  const second = await s.a.generate(s.apiKey, OWNER)
  const tokens = Array.from({ length: 10_000 }, (_, i) => `cs${createHash('sha256').update(String(i)).digest('hex').slice(0, 40)}`)
  tokens[5000] = s.tok.secret
  tokens[9999] = second.secret
  const body = s.github(tokens)
  const res = await s.post(body, signed(s.key.privateKey, s.keyId, body))
  t.equal(res.statusCode, 202, res.body.slice(0, 200))
  t.same(res.json(), { notice: '10000 reports received.' })
  await settled(s.a)
  t.same(new Set((await s.events()).filter((e) => e.type === 'TokenRevoked').map((e) => e.data.token_uid)), new Set([s.tok.uid, second.uid]))

  const third = await s.a.generate(s.apiKey, OWNER)
  const tooMany = s.github([...tokens.slice(0, 10_000), third.secret])
  const refused = await s.post(tooMany, signed(s.key.privateKey, s.keyId, tooMany))
  t.equal(refused.statusCode, 422)
  t.same(refused.json().errors, { reports: ['has 10001 reports; at most 10000'] })
  await settled(s.a)
  t.equal((await s.forward(third.secret)).statusCode, 200, 'not revoked: nothing of a refused body is acted on')
})

t.test('bad bodies are clear 4xx and change nothing', async (t) => {
  const s = await setup(t, false)
  const before = await s.events()
  const cases: Array<[string, string, Record<string, string>, number, string]> = [
    ['not JSON', '[{', {}, 400, 'body'],
    ['empty', '', {}, 400, 'body'],
    ['a number', '42', {}, 422, 'token'],
    ['token not a string', JSON.stringify({ token: 5 }), {}, 422, 'token'],
    ['a report without token', JSON.stringify([{ url: URL_FOUND }]), {}, 422, '[0].token'],
    ['a url too long', JSON.stringify([{ token: s.tok.secret, url: `https://x/${'a'.repeat(3000)}` }]), {}, 422, '[0].url'],
    ['not an object', JSON.stringify(['x']), {}, 422, '[0]'],
  ]
  for (const [name, body, headers, status, field] of cases) {
    const res = await s.post(body, headers)
    t.equal(res.statusCode, status, name)
    t.ok(field in res.json().errors, `${name}: names ${field} (${res.body})`)
  }
  const deep = await s.post(`${'['.repeat(500_000)}${']'.repeat(500_000)}`, {})
  t.equal(deep.statusCode, 422, 'deeply nested arrays: a 422, not a crash')
  t.equal((await s.post(`{"__proto__":{"token":"${s.tok.secret}"}}`, {})).statusCode, 422, 'a token under __proto__ is no token')
  const big = await s.post(JSON.stringify({ token: 'x'.repeat(5 * 1024 * 1024) }), {})
  t.equal(big.statusCode, 413, 'a body over the limit')
  const text = await s.a.app.inject({ method: 'POST', url: '/v3/leaked-secrets', headers: { 'content-type': 'text/plain' }, payload: s.tok.secret })
  t.ok(text.statusCode === 400 || text.statusCode === 415, `a wrong content type: ${text.statusCode}`)
  await settled(s.a)
  t.same(await s.events(), before, 'nothing appended')
  t.equal((await s.forward(s.tok.secret)).statusCode, 200)
})

t.test('without SECRET_SCANNING_PUBLIC_KEYS the array form is accepted unsigned, and recorded as unsigned', async (t) => {
  const s = await setup(t, false)
  t.equal((await s.post(s.github([s.tok.secret]), {})).statusCode, 202)
  await settled(s.a)
  t.same((await s.events()).filter((e) => e.type === 'TokenRevoked').map((e) => e.data.report), [{ url: URL_FOUND, source: 'content', signed: false }])
})

t.test('rate limit: 60 requests a minute per client address, then 429 with Retry-After', async (t) => {
  const s = await setup(t, false)
  const body = JSON.stringify({ token: 'cs' + '1'.repeat(40) })
  for (let i = 0; i < 60; i += 1) t.equal((await s.post(body, {}, '203.0.113.9')).statusCode, 202)
  const limited = await s.post(body, {}, '203.0.113.9')
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().error_code, 429)
  t.equal(limited.headers['retry-after'], '60')
  t.equal((await s.post(body, {}, '203.0.113.10')).statusCode, 202, 'another address has its own budget')
  s.a.clock!.advance(60_000)
  t.equal((await s.post(body, {}, '203.0.113.9')).statusCode, 202, 'a minute later, again')
})

t.test('a revocation refused (revoked meanwhile) mails nothing; one that fails on the store is logged, never the secret', async (t) => {
  const { LeakRevocations } = await import('../../src/http/leaks/revocations.js')
  const { FaultyStore } = await import('../support/app.js')
  let faulty: InstanceType<typeof FaultyStore> | undefined
  const a = await startApp(t, { clock: true, wrapStore: (s) => (faulty = new FaultyStore(s)) })
  const apiKey = await a.createStack()
  const [gone, live] = [await a.generate(apiKey, OWNER), await a.generate(apiKey, OWNER)]
  t.equal((await a.call({ method: 'DELETE', url: `/v3/stacks/management_tokens/${gone.uid}`, as: OWNER, apiKey })).statusCode, 200)
  const said: Array<[string, string]> = []
  const notices = { intend: (id: string) => void said.push(['intend', id]), drop: (id: string) => void said.push(['drop', id]) }
  const revocations = new LeakRevocations(a.service.handle, notices, a.app.log)
  const report = { url: null, source: null, signed: false }
  revocations.add([{ apiKey, tokenUid: gone.uid, report }], { requestId: 'r1', remoteAddr: '198.51.100.1' })
  await revocations.idle()
  t.same(said.map(([what]) => what), ['intend', 'drop'], 'the intent is dropped: nothing to mail')
  t.equal((await a.eventTypes(apiKey)).filter((x) => x === 'TokenRevoked').length, 1, 'no second revocation')

  faulty!.fault = 'unavailable'
  revocations.add([{ apiKey, tokenUid: live.uid, report }], { requestId: 'r2', remoteAddr: '198.51.100.1' })
  await revocations.idle()
  faulty!.fault = 'none'
  t.equal(said.length, 3, 'the intent is kept: the stream will tell whether the event was appended')
  const line = a.logs().find((l) => String(l.msg).includes('could not be revoked'))
  t.match(line, { level: 50, token_uid: live.uid }, 'logged as an error, naming the token')
  t.notMatch(a.logLines.join('\n'), live.secret.slice(2), 'no secret in the logs')
})

t.test('a previous secret within its rotation grace revokes the token; one whose grace is over does nothing', async (t) => {
  const s = await setup(t, false)
  const rotate = async (uid: string, grace: number) => {
    const res = await s.a.call({ method: 'POST', url: `/v3/stacks/management_tokens/${uid}/rotate`, as: OWNER, apiKey: s.apiKey, body: { previous_expires_in_seconds: grace } })
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { token: { token: string } }).token.token
  }
  const other = await s.a.generate(s.apiKey, OWNER)
  await rotate(s.tok.uid, 3600)
  const otherNew = await rotate(other.uid, 60)
  s.a.clock!.advance(61_000)
  const before = (await s.events()).length
  t.equal((await s.post(JSON.stringify({ token: other.secret }), {})).statusCode, 202)
  await settled(s.a)
  t.equal((await s.events()).length, before, 'a rotated-out secret (grace over) revokes nothing')
  t.equal((await s.forward(otherNew)).statusCode, 200)
  t.equal((await s.post(JSON.stringify({ token: s.tok.secret }), {})).statusCode, 202)
  await settled(s.a)
  t.same((await s.events()).slice(before).map((e) => [e.type, e.data.token_uid, e.data.reason]), [['TokenRevoked', s.tok.uid, 'leaked']], 'the old secret, in its grace, revokes the token (its new secret with it)')
})
