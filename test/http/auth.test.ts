import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import t from 'tap'
import { testConfig } from '../../src/config.js'
import { DEV_SECRET_FILE, mintAuthtoken, resolveJwtKey } from '../../src/http/auth.js'
import { openApp } from '../../src/service.js'
import { OWNER, tempDir } from '../support/app.js'

t.test('without a configured key, a random development secret is kept in the data folder', async (t) => {
  const dataDir = join(tempDir(t), 'nested', 'data')
  const first = resolveJwtKey(testConfig({ dataDir }))
  if (!first) throw new Error('a development key is expected')
  t.equal(first.development, true)
  t.match('secret' in first ? first.secret : '', /^[0-9a-f]{64}$/)
  t.equal(readFileSync(join(dataDir, DEV_SECRET_FILE), 'utf8'), 'secret' in first ? first.secret : '')
  t.same(resolveJwtKey(testConfig({ dataDir })), first, 'the server and the CLI agree on it')
  t.same(resolveJwtKey(testConfig({ dataDir, jwtSecret: 's' })), { secret: 's', development: false })
})

t.test('with AUTH_JWT_PUBLIC_KEY, RS256 authtokens are verified; HS256 ones are refused', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  const dataDir = tempDir(t)
  // As an environment variable would carry it: newlines escaped.
  const config = testConfig({ dataDir, jwtPublicKey: pem.replace(/\n/g, '\\n'), logLevel: 'silent' })
  t.match(resolveJwtKey(config), { publicKey: pem, development: false })
  const { app, close } = await openApp(config) // default logger, from the configuration
  t.teardown(close)
  const sign = createSigner({ key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), algorithm: 'RS256', expiresIn: 60_000 })
  const create = (authtoken: string) =>
    app.inject({ method: 'POST', url: '/v3/stacks', headers: { authtoken }, payload: { stack: { name: 'rsa' } } })
  const ok = await create(sign({ sub: 'u-owner', email: 'Owner@Example.com' }))
  t.equal(ok.statusCode, 201, ok.body)
  t.equal(ok.json().stack.owner_uid, 'u-owner')
  const members = await app.inject({
    method: 'GET',
    url: '/v3/stacks/members',
    headers: { authtoken: sign({ sub: 'u-owner', email: OWNER }), api_key: ok.json().stack.api_key },
  })
  t.same(members.json().members, [{ email: OWNER, roles: ['owner'] }], 'emails are compared in lower case')
  const hs = await create(mintAuthtoken('whatever', { sub: 'u', email: OWNER }))
  t.equal(hs.statusCode, 401)
  t.equal(hs.json().error_code, 105)
})
