/**
 * SECRET_SCANNING_PUBLIC_KEYS: a PEM bundle of P-256 keys or the URL of GitHub's key list,
 * checked at start-up (a bad value names the variable, never echoes the value); a key list is
 * fetched on the first signed report and again for an unknown key, at most once a minute.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ConfigError, loadConfig } from '../../src/config.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { OWNER, startApp } from '../support/app.js'

const p256 = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string
const problem = (value: string) => {
  try {
    loadConfig({ SECRET_SCANNING_PUBLIC_KEYS: value })
    return undefined
  } catch (e) {
    return e instanceof ConfigError ? e.message : String(e)
  }
}

t.test('the setting: a PEM bundle of P-256 keys (named by the SHA-256 of their DER) or an https URL; anything else stops start-up', async (t) => {
  const [a, b] = [p256(), p256()]
  const keys = loadConfig({ SECRET_SCANNING_PUBLIC_KEYS: `${pem(a.publicKey)}\n${pem(b.publicKey)}` }).secretScanningKeys
  const ids = [a, b].map((k) => createHash('sha256').update(k.publicKey.export({ type: 'spki', format: 'der' })).digest('hex'))
  t.same(keys && 'keys' in keys ? [...keys.keys.keys()] : [], ids)
  t.same(loadConfig({ SECRET_SCANNING_PUBLIC_KEYS: 'https://api.github.com/meta/public_keys/secret_scanning' }).secretScanningKeys, { url: 'https://api.github.com/meta/public_keys/secret_scanning' })
  t.same(loadConfig({ SECRET_SCANNING_PUBLIC_KEYS: 'http://127.0.0.1:9/keys' }).secretScanningKeys, { url: 'http://127.0.0.1:9/keys' })
  t.equal(loadConfig({}).secretScanningKeys, undefined)
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey
  const bad: Array<[string, RegExp]> = [
    ['garbage', /SECRET_SCANNING_PUBLIC_KEYS: must be a PEM bundle/],
    [pem(rsa), /SECRET_SCANNING_PUBLIC_KEYS: holds a key that is not ECDSA P-256/],
    [pem(p384), /SECRET_SCANNING_PUBLIC_KEYS: holds a key that is not ECDSA P-256/],
    [`${pem(a.publicKey)}\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----`, /SECRET_SCANNING_PUBLIC_KEYS: holds a block that is not a PEM public key/],
    ['http://keys.example.com/list', /SECRET_SCANNING_PUBLIC_KEYS: must be an https URL/],
  ]
  for (const [value, message] of bad) {
    const m = problem(value)
    t.match(m, message, value.slice(0, 40))
    t.notMatch(m ?? '', 'garbage', 'the value is not echoed')
  }
})

t.test("GitHub's key list from a URL: fetched at first use, again for a new key (once a minute at most); unreachable: 503", async (t) => {
  const [k1, k2] = [p256(), p256()]
  let list: Array<{ id: string; key: KeyObject }> = [{ id: 'k1', key: k1.publicKey }]
  let fetches = 0
  let up = true
  const server = createServer((_req, res) => {
    fetches += 1
    if (!up) return res.writeHead(500).end()
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ public_keys: list.map((k, i) => ({ key_identifier: k.id, key: pem(k.key), is_current: i === 0 })) }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`
  const a = await startApp(t, { clock: true, config: { secretScanningKeys: loadConfig({ SECRET_SCANNING_PUBLIC_KEYS: url }).secretScanningKeys } })
  const apiKey = await a.createStack()
  const tokens = [await a.generate(apiKey, OWNER), await a.generate(apiKey, OWNER), await a.generate(apiKey, OWNER)]
  const report = (key: KeyObject, id: string, secret: string) => {
    const body = JSON.stringify([{ token: secret, type: 't', url: 'https://x/y', source: 'content' }])
    const signature = sign('sha256', Buffer.from(body), { key, dsaEncoding: 'der' }).toString('base64')
    return a.app.inject({ method: 'POST', url: '/v3/leaked-secrets', headers: { 'content-type': 'application/json', 'github-public-key-identifier': id, 'github-public-key-signature': signature }, payload: body })
  }
  up = false
  const down = await report(k1.privateKey, 'k1', tokens[0]!.secret)
  t.equal(down.statusCode, 503, 'no key list yet: 503, the reporter retries')
  t.equal(down.json().error_code, 503)
  up = true
  a.clock!.advance(60_000)
  t.equal((await report(k1.privateKey, 'k1', tokens[0]!.secret)).statusCode, 202)
  t.equal(fetches, 2)
  list = [{ id: 'k2', key: k2.publicKey }, ...list]
  t.equal((await report(k2.privateKey, 'k2', tokens[1]!.secret)).statusCode, 401, 'a new key within the minute: not fetched again')
  t.equal(fetches, 2)
  a.clock!.advance(60_000)
  t.equal((await report(k2.privateKey, 'k2', tokens[1]!.secret)).statusCode, 202, 'after it: fetched, and verified')
  t.equal(fetches, 3)
  t.equal((await report(k1.privateKey, 'k1', tokens[2]!.secret)).statusCode, 202, 'a known key: no fetch')
  t.equal(fetches, 3)
  up = false
  a.clock!.advance(60_000)
  const k3 = p256()
  t.equal((await report(k3.privateKey, 'k3', tokens[2]!.secret)).statusCode, 401, 'an unknown key while the list is unreachable: 401, the keys held are kept')
  t.equal(fetches, 4)
  await a.app.leakedSecrets.idle()
  const revoked = (await a.service.store.readStream(stackStream(apiKey))).filter((e) => e.type === 'TokenRevoked').map((e) => (e.data as { token_uid: string }).token_uid)
  t.same(revoked, tokens.map((x) => x.uid))
})
