/**
 * A 42-character secret whose checksum is wrong was never issued: every surface refuses it as an
 * unknown token (same status, body and failure count) without reading the token table. The proof
 * that nothing is read: its hash is planted in the table as a token's, and the table's lookups
 * are counted on the connection the authorizer reads.
 */
import type { AddressInfo } from 'node:net'
import type Database from 'better-sqlite3'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import { SECRET_LOOKUP } from '../../projections/token-by-hash/queries.js'
import { checksumOf, hashSecret } from '../../src/domain/secret.js'
import { appOver } from '../support/app-over.js'
import { ALL_SCOPE, authorizerFixture, fakeWallClock, newSecret } from '../support/authorizer-fixtures.js'
import { exchange, requestText, responsesIn } from '../support/raw-http.js'

/** `db` with every run of the secret lookup counted. */
const countingLookups = (db: Database.Database) => {
  const seen = { lookups: 0 }
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare')
        return (sql: string) => {
          const st = target.prepare(sql)
          if (sql !== SECRET_LOOKUP) return st
          const get = st.get.bind(st)
          return Object.assign(st, {
            get: (...args: unknown[]) => {
              seen.lookups += 1
              return get(...(args as [string]))
            },
          })
        }
      const v = Reflect.get(target, prop, target) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  return { db: proxy, seen }
}

/** A secret of the issued form with one checksum digit changed. */
const wrongChecksum = () => {
  const s = newSecret()
  const last = s.at(-1) === '0' ? '1' : '0'
  return s.slice(0, -1) + last
}

const setup = async (t: Test, config: { authFailureLimit?: number } = {}) => {
  fakeWallClock(t)
  const up = Fastify()
  up.all('/*', async () => ({ from: 'upstream' }))
  const upstreamUrl = await up.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => up.close())
  const f = await authorizerFixture(t, { upstreamUrl, planReadLimit: 100, planWriteLimit: 100, authFailureLimit: config.authFailureLimit ?? 100 })
  const apiKey = await f.createStack()
  const planted = wrongChecksum()
  // A token whose hash is that of a never-issued secret: a lookup would find it and allow it.
  await f.given(apiKey, 'TokenGenerated', {
    token_uid: 'bltplanted',
    name: 'planted',
    description: '',
    scope: ALL_SCOPE,
    expires_on: null,
    rate_limit: null,
    is_email_notification_enabled: false,
    secret_hash: hashSecret(planted),
  })
  const good = await f.generateToken(apiKey, { scope: ALL_SCOPE })
  const counting = countingLookups(f.deps.readDb)
  const app = await appOver(t, { ...f.deps, readDb: counting.db })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { f, app, port, apiKey, planted, good, seen: counting.seen }
}

const FORWARD = { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries' }

t.test('forward-auth (raw path and fastify) and the gateway refuse a wrong checksum as an unknown token, with no lookup', async (t) => {
  const { app, port, apiKey, planted, good, seen } = await setup(t)
  const raw = async (secret: string) => {
    const head: Array<[string, string]> = [['api_key', apiKey], ['authorization', secret], ['x-original-method', 'GET'], ['x-original-uri', '/v3/content_types/a/entries'], ['x-request-id', 'r1'], ['connection', 'close']]
    return responsesIn(await exchange(port, [requestText('GET', '/v3/authorize', head)]))[0]
  }
  const unknownRaw = await raw(newSecret())
  const before = seen.lookups
  t.ok(before >= 1, 'an unknown secret of the right form is looked up')
  const badRaw = await raw(planted)
  t.equal(seen.lookups, before, 'raw forward-auth: no lookup')
  t.equal(badRaw?.status, 401)
  t.equal(badRaw?.body, unknownRaw?.body, 'the same body as an unknown secret')
  t.same(JSON.parse(badRaw?.body ?? '{}').error_code, 105)

  const inject = (secret: string, url = '/v3/authorize', extra: Record<string, string> = FORWARD) =>
    app.inject({ method: 'GET', url, headers: { api_key: apiKey, authorization: secret, ...extra } })
  for (const [name, ask] of [
    ['fastify forward-auth', (s: string) => inject(s)],
    ['Envoy prefix', (s: string) => inject(`Bearer ${s}`, '/v3/authorize/envoy/v3/content_types/a/entries', {})],
    ['gateway', (s: string) => inject(s, '/v3/content_types/a/entries', {})],
  ] as const) {
    const unknown = await ask(newSecret())
    const n = seen.lookups
    const bad = await ask(planted)
    t.equal(seen.lookups, n, `${name}: no lookup`)
    t.equal(bad.statusCode, 401, name)
    t.same(bad.json(), unknown.json(), `${name}: answered as an unknown secret`)
  }
  const allowed = await inject(good.secret)
  t.equal(allowed.statusCode, 200, 'an issued secret still works')
})

t.test('a secret issued before the checksum (34 characters) is still looked up and works', async (t) => {
  const { f, app, apiKey, seen } = await setup(t)
  const legacy = `cs${'0123456789abcdef'.repeat(2)}`
  await f.given(apiKey, 'TokenGenerated', {
    token_uid: 'bltlegacy',
    name: 'legacy',
    description: '',
    scope: ALL_SCOPE,
    expires_on: null,
    rate_limit: null,
    is_email_notification_enabled: false,
    secret_hash: hashSecret(legacy),
  })
  const n = seen.lookups
  const res = await app.inject({ method: 'GET', url: '/v3/authorize', headers: { api_key: apiKey, authorization: legacy, ...FORWARD } })
  t.equal(res.statusCode, 200)
  t.ok(seen.lookups > n, 'looked up')
  t.equal(checksumOf('0123456789abcdef'.repeat(2)).length, 8)
})

t.test('a wrong checksum counts as a failed authentication, like an unknown secret', async (t) => {
  const { app, apiKey, planted, seen } = await setup(t, { authFailureLimit: 2 })
  const ask = (secret: string) =>
    app.inject({ method: 'GET', url: '/v3/authorize', remoteAddress: '198.51.100.7', headers: { api_key: apiKey, authorization: secret, ...FORWARD } })
  const n = seen.lookups
  t.same([(await ask(planted)).statusCode, (await ask(wrongChecksum())).statusCode, (await ask(planted)).statusCode], [401, 401, 429])
  t.equal(seen.lookups, n, 'none looked up')
})
