import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { developmentDefaults, isLoopbackHost, SECRET_SETTINGS } from '../src/config-secrets.js'
import { ConfigError, loadConfig } from '../src/config.js'

/** 32 bytes: the shortest AUTH_JWT_SECRET accepted. */
const SECRET = 'a-secret-of-exactly-32-bytes-0ab'
const PLACEHOLDER = 'local-development-secret-change-me'

/** The message of the ConfigError `env` raises. */
const problem = (env: Record<string, string | undefined>): string => {
  try {
    loadConfig(env)
  } catch (e) {
    if (e instanceof ConfigError) return e.message
    throw e
  }
  throw new Error(`no ConfigError for ${JSON.stringify(Object.keys(env))}`)
}

const folder = (t: Test) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-secrets-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('AUTH_JWT_SECRET: at least 32 bytes, never the docker-compose placeholder, never echoed', async (t) => {
  t.equal(SECRET.length, 32)
  t.equal(loadConfig({ AUTH_JWT_SECRET: SECRET }).jwtSecret, SECRET)
  t.equal(loadConfig({ AUTH_JWT_SECRET: '\u00e9'.repeat(16) }).jwtSecret, '\u00e9'.repeat(16), 'bytes, not characters: 16 two-byte characters')
  for (const short of ['short-secret-value', SECRET.slice(1), '\u00e9'.repeat(15)]) {
    const message = problem({ AUTH_JWT_SECRET: short })
    t.match(message, /AUTH_JWT_SECRET: must be at least 32 bytes/, `${Buffer.byteLength(short)} bytes`)
    t.notMatch(message, short, 'the value is not echoed')
  }
  t.ok(Buffer.byteLength(PLACEHOLDER) >= 32, 'the placeholder is long enough: it is refused by value')
  const placeholder = problem({ AUTH_JWT_SECRET: PLACEHOLDER })
  t.match(placeholder, /AUTH_JWT_SECRET: is the placeholder once shipped in docker-compose\.yml/)
  t.notMatch(placeholder, PLACEHOLDER)
})

t.test('a JWT setting present but blank stops start-up naming it (it does not fall back to development)', async (t) => {
  const identity = ['AUTH_JWT_SECRET', 'AUTH_JWT_PUBLIC_KEY', 'AUTH_JWKS_URL', 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'OIDC_ISSUER_URL', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET']
  for (const name of identity)
    for (const blank of ['', ' ', '\n']) {
      const message = problem({ [name]: blank })
      t.match(message, new RegExp(`^  ${name}: is set but blank`, 'm'), `${name}=${JSON.stringify(blank)}`)
      t.notMatch(message, /must be at least|must be a URL/, 'only the blank is reported')
    }
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'other settings: empty is still unset')
})

t.test('NODE_ENV=production without any way to verify authtokens stops start-up naming AUTH_JWT_SECRET', async (t) => {
  const image = { NODE_ENV: 'production', HOST: '0.0.0.0' }
  t.match(problem(image), /AUTH_JWT_SECRET: is required with NODE_ENV=production/)
  t.match(problem({ NODE_ENV: 'production' }), /AUTH_JWT_SECRET: is required/, 'on loopback too')
  const blank = problem({ ...image, AUTH_JWT_SECRET: '' })
  t.match(blank, /AUTH_JWT_SECRET: is set but blank/)
  t.notMatch(blank, /is required/, 'the blank is the problem named, not a missing setting')
  const unread = problem({ ...image, AUTH_JWT_SECRET_FILE: '/nonexistent/secret' })
  t.match(unread, /AUTH_JWT_SECRET_FILE: \/nonexistent\/secret does not exist/)
  t.notMatch(unread, /is required/, 'the unreadable file is the problem named')
  t.equal(loadConfig({ ...image, AUTH_JWT_SECRET: SECRET }).jwtSecret, SECRET)
  t.ok(loadConfig({ ...image, AUTH_JWT_PUBLIC_KEY: 'pem' }).jwtPublicKey)
  t.ok(loadConfig({ ...image, AUTH_JWKS_URL: 'https://id.example.com/keys', AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a' }).jwksUrl)
  t.ok(loadConfig({ ...image, OIDC_ISSUER_URL: 'https://id.example.com', OIDC_CLIENT_ID: 'c' }).oidcIssuerUrl)
  t.equal(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).jwtSecret, undefined, 'outside production: the local development secret')
})

t.test('DEV_SIGNIN: off unless set; refused in production, on a non-loopback HOST, and beside a JWT setting', async (t) => {
  t.equal(loadConfig({}).devSignIn, false, 'no JWT setting alone does not turn it on')
  t.equal(loadConfig({ DEV_SIGNIN: 'true' }).devSignIn, true)
  t.equal(loadConfig({ DEV_SIGNIN: 'false', NODE_ENV: 'production', AUTH_JWT_SECRET: SECRET }).devSignIn, false)
  for (const host of ['localhost', '127.0.0.1', '127.0.0.2', '::1', '[::1]'])
    t.equal(loadConfig({ DEV_SIGNIN: 'true', HOST: host }).devSignIn, true, `HOST=${host}`)
  t.match(problem({ DEV_SIGNIN: 'true', NODE_ENV: 'production', AUTH_JWT_SECRET: SECRET }), /DEV_SIGNIN: is refused with NODE_ENV=production/)
  t.match(problem({ DEV_SIGNIN: 'true', NODE_ENV: 'production' }), /AUTH_JWT_SECRET: is required[\s\S]*DEV_SIGNIN: is refused with NODE_ENV=production/)
  for (const host of ['0.0.0.0', '::', '192.0.2.7', 'tokens.example.com', '::ffff:10.0.0.1'])
    t.match(problem({ DEV_SIGNIN: 'true', HOST: host }), `DEV_SIGNIN: is refused with HOST=${host}, which is not a loopback address`, host)
  t.match(problem({ DEV_SIGNIN: 'true', AUTH_JWT_SECRET: SECRET }), /DEV_SIGNIN: only applies without AUTH_JWT_SECRET/)
  t.match(problem({ DEV_SIGNIN: 'true', OIDC_ISSUER_URL: 'https://id.example.com', OIDC_CLIENT_ID: 'c' }), /DEV_SIGNIN: only applies without OIDC_ISSUER_URL/)
  t.match(problem({ DEV_SIGNIN: 'yes' }), /DEV_SIGNIN: must be true or false/)
})

t.test('loopback hosts', async (t) => {
  for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '::ffff:127.0.0.1']) t.ok(isLoopbackHost(host), host)
  for (const host of ['0.0.0.0', '::', '128.0.0.1', '10.0.0.1', 'localhost.example.com', '::ffff:10.0.0.1', '']) t.notOk(isLoopbackHost(host), host)
})

t.test('serve --development defaults: DEV_SIGNIN=true only where it is allowed and nothing says otherwise', async (t) => {
  t.same(developmentDefaults({ DATA_DIR: 'd' }), { DATA_DIR: 'd', DEV_SIGNIN: 'true' })
  t.same(developmentDefaults({ HOST: 'localhost' }), { HOST: 'localhost', DEV_SIGNIN: 'true' })
  t.same(developmentDefaults({ HOST: '' }), { HOST: '', DEV_SIGNIN: 'true' }, 'an empty HOST is the default, loopback')
  for (const env of [
    { DEV_SIGNIN: 'false' },
    { DEV_SIGNIN: 'true' },
    { NODE_ENV: 'production' },
    { HOST: '0.0.0.0' },
    { AUTH_JWT_SECRET: SECRET },
    { AUTH_JWT_SECRET: '' },
    { AUTH_JWT_SECRET_FILE: '/run/secrets/jwt' },
    { AUTH_JWT_PUBLIC_KEY_FILE: '/run/secrets/pem' },
    { AUTH_JWKS_URL: 'https://id.example.com/keys' },
    { OIDC_ISSUER_URL: 'https://id.example.com' },
  ] as Array<Record<string, string>>)
    t.same(developmentDefaults(env), env, JSON.stringify(env))
})

t.test('every secret setting can be given as NAME_FILE', async (t) => {
  const dir = folder(t)
  const file = (name: string, text: string) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  }
  t.same(SECRET_SETTINGS, ['AUTH_JWT_SECRET', 'AUTH_JWT_PUBLIC_KEY', 'WEBHOOK_SECRET', 'OIDC_CLIENT_SECRET', 'SMTP_URL', 'REDIS_URL', 'EVENT_STORE_URL'])
  const pem = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----'
  const config = loadConfig({
    AUTH_JWT_SECRET_FILE: file('jwt', `${SECRET}\n`),
    AUTH_JWT_PUBLIC_KEY_FILE: file('pem', `${pem}\n`),
    WEBHOOK_URL: 'https://hooks.example.com/t',
    WEBHOOK_SECRET_FILE: file('webhook', 'whsec_0123456789abcdef\r\n'),
    OIDC_ISSUER_URL: 'https://id.example.com',
    OIDC_CLIENT_ID: 'console',
    OIDC_CLIENT_SECRET_FILE: file('oidc', 'client-secret'),
    SMTP_URL_FILE: file('smtp', 'smtps://user:pw@mail.example.com:465\n'),
    REDIS_URL_FILE: file('redis', 'redis://:pw@127.0.0.1:6379\n'),
    EVENT_STORE_URL_FILE: file('esdb', 'esdb://admin:changeit@eventstore:2113?tls=false\n'),
  })
  t.match(config, {
    jwtSecret: SECRET,
    jwtPublicKey: pem,
    webhookSecret: 'whsec_0123456789abcdef',
    oidcClientSecret: 'client-secret',
    smtpUrl: 'smtps://user:pw@mail.example.com:465',
    redisUrl: 'redis://:pw@127.0.0.1:6379',
    eventStoreUrl: 'esdb://admin:changeit@eventstore:2113?tls=false',
  })
  t.equal(loadConfig({ AUTH_JWT_SECRET_FILE: file('two-newlines', `${SECRET}\n\n`) }).jwtSecret, `${SECRET}\n`, 'one trailing newline is trimmed, no more')
  t.equal(loadConfig({ NODE_ENV: 'production', HOST: '0.0.0.0', AUTH_JWT_SECRET_FILE: join(dir, 'jwt') }).jwtSecret, SECRET, 'production with the secret in a file')

  const secretText = 'a-secret-nobody-may-see-in-a-message'
  const both = problem({ AUTH_JWT_SECRET: secretText, AUTH_JWT_SECRET_FILE: file('other', SECRET) })
  t.match(both, /AUTH_JWT_SECRET and AUTH_JWT_SECRET_FILE: both are set; give one/)
  t.notMatch(both, secretText)
  t.notMatch(both, SECRET)
  mkdirSync(join(dir, 'a-folder'))
  for (const name of SECRET_SETTINGS) {
    const v = `${name}_FILE`
    t.match(problem({ [v]: join(dir, 'missing') }), `${v}: ${join(dir, 'missing')} does not exist`, `${v} missing`)
    t.match(problem({ [v]: file('empty', '') }), `${v}: ${join(dir, 'empty')} is empty`, `${v} empty`)
    t.match(problem({ [v]: file('newline', '\n') }), `${v}: ${join(dir, 'newline')} is empty`, `${v} only a newline`)
    t.match(problem({ [v]: join(dir, 'a-folder') }), `${v}: ${join(dir, 'a-folder')} is a folder, not a file`)
    t.match(problem({ [v]: ' ' }), `${v}: is set but blank`)
    t.match(problem({ [name]: 'x', [v]: file('x', 'x') }), `${name} and ${v}: both are set`)
  }
  const underAFile = join(dir, 'jwt', 'x')
  t.match(problem({ AUTH_JWT_SECRET_FILE: underAFile }), `AUTH_JWT_SECRET_FILE: ${underAFile} cannot be read (ENOTDIR)`)

  // A value read from a file that fails its check: the message names both variables, never the value.
  const short = problem({ AUTH_JWT_SECRET_FILE: file('short', 'short-secret-text\n') })
  t.match(short, /AUTH_JWT_SECRET \(from AUTH_JWT_SECRET_FILE\): must be at least 32 bytes/)
  t.notMatch(short, 'short-secret-text')
  t.match(problem({ AUTH_JWT_SECRET_FILE: file('placeholder', `${PLACEHOLDER}\n`) }), /AUTH_JWT_SECRET \(from AUTH_JWT_SECRET_FILE\): is the placeholder/)
  const smtp = problem({ SMTP_URL_FILE: file('bad-smtp', 'http://user:hunter2@mail.example.com') })
  t.match(smtp, /SMTP_URL \(from SMTP_URL_FILE\): must use smtp: or smtps:/)
  t.notMatch(smtp, 'hunter2')
})
