import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { ConfigError, loadConfig } from '../src/config.js'

/** 32 bytes: the shortest AUTH_JWT_SECRET accepted. */
const SECRET = '0123456789abcdef0123456789abcdef'

t.test('defaults', async (t) => {
  t.match(loadConfig({}), {
    port: 3000,
    host: '127.0.0.1',
    eventStoreUrl: undefined,
    dataDir: './data',
    planReadLimit: 10,
    planWriteLimit: 10,
    maxTokensPerStack: 30,
    maxMembersPerStack: 1000,
    maxEmailsPerShare: 100,
    maxStacksPerUser: 100,
    logLevel: 'info',
    forwardAuth429As403: false,
    rawHttp: true,
    authFailureLimit: 30,
    auditRateLimit: 60,
    managementRateLimit: 600,
    requestTimeoutMs: 30_000,
    propagationTimeoutMs: 2000,
    redisCommandTimeoutMs: 100,
  })
  t.equal(loadConfig({ PORT: '' }).port, 3000, 'an empty variable is unset')
})

t.test('every variable is decoded', async (t) => {
  t.match(
    loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      EVENT_STORE_URL: 'esdb://eventstore:2113?tls=false',
      DATA_DIR: '/data',
      REDIS_URL: 'redis://127.0.0.1:6379',
      AUTH_JWT_SECRET: SECRET,
      AUTH_JWT_PUBLIC_KEY: 'k',
      PLAN_READ_LIMIT: '50',
      PLAN_WRITE_LIMIT: '5',
      MAX_TOKENS_PER_STACK: '3',
      MAX_MEMBERS_PER_STACK: '50',
      MAX_EMAILS_PER_SHARE: '5',
      MAX_STACKS_PER_USER: '7',
      UPSTREAM_URL: 'https://api.contentstack.io',
      LOG_LEVEL: 'debug',
      FORWARD_AUTH_429_AS_403: 'true',
      RAW_HTTP: 'false',
      AUTH_FAILURE_LIMIT: '7',
      AUDIT_RATE_LIMIT: '12',
      MANAGEMENT_RATE_LIMIT: '120',
      REQUEST_TIMEOUT_MS: '5000',
      PROPAGATION_TIMEOUT_MS: '250',
      REDIS_COMMAND_TIMEOUT_MS: '400',
      USAGE_RECORDING: 'false',
      USAGE_FLUSH_MS: '2500',
      USAGE_RETENTION_DAYS: '30',
    }),
    {
      port: 8080,
      host: '0.0.0.0',
      eventStoreUrl: 'esdb://eventstore:2113?tls=false',
      dataDir: '/data',
      redisUrl: 'redis://127.0.0.1:6379',
      jwtSecret: SECRET,
      jwtPublicKey: 'k',
      planReadLimit: 50,
      planWriteLimit: 5,
      maxTokensPerStack: 3,
      maxMembersPerStack: 50,
      maxEmailsPerShare: 5,
      maxStacksPerUser: 7,
      upstreamUrl: 'https://api.contentstack.io',
      logLevel: 'debug',
      forwardAuth429As403: true,
      rawHttp: false,
      authFailureLimit: 7,
      auditRateLimit: 12,
      managementRateLimit: 120,
      requestTimeoutMs: 5000,
      propagationTimeoutMs: 250,
      redisCommandTimeoutMs: 400,
      usageRecording: false,
      usageFlushMs: 2500,
      usageRetentionDays: 30,
    },
  )
  t.equal(loadConfig({ FORWARD_AUTH_429_AS_403: '0' }).forwardAuth429As403, false)
  t.equal(loadConfig({ RAW_HTTP: '0' }).rawHttp, false, 'RAW_HTTP=0 switches the raw path off')
  t.equal(loadConfig({ RAW_HTTP: 'true' }).rawHttp, true)
  t.equal(loadConfig({ EVENT_STORE_URL: 'sqlite:/tmp/x.db' }).eventStoreUrl, 'sqlite:/tmp/x.db')
})

t.test('a bad value stops start-up with a message naming each variable', async (t) => {
  const bad = (env: Record<string, string>, pattern: RegExp) => {
    t.throws(() => loadConfig(env), pattern)
    t.throws(() => loadConfig(env), ConfigError)
  }
  bad({ PORT: '70000' }, /PORT: must be an integer from 0 to 65535/)
  bad({ PLAN_READ_LIMIT: '0' }, /PLAN_READ_LIMIT: must be an integer from 1/)
  bad({ MAX_TOKENS_PER_STACK: 'many' }, /MAX_TOKENS_PER_STACK: must be an integer/)
  bad({ MAX_MEMBERS_PER_STACK: '0' }, /MAX_MEMBERS_PER_STACK: must be an integer from 1 to 1000000/)
  bad({ MAX_EMAILS_PER_SHARE: '10001' }, /MAX_EMAILS_PER_SHARE: must be an integer from 1 to 10000/)
  bad({ MAX_STACKS_PER_USER: 'lots' }, /MAX_STACKS_PER_USER: must be an integer from 1 to 1000000/)
  bad({ REDIS_URL: 'localhost:6379' }, /REDIS_URL: must use redis: or rediss:/)
  bad({ REDIS_URL: 'not a url' }, /REDIS_URL: must be a URL/)
  bad({ EVENT_STORE_URL: 'postgres://x' }, /EVENT_STORE_URL: must use sqlite: or esdb: or esdb\+discover:/)
  bad({ UPSTREAM_URL: 'ftp://x' }, /UPSTREAM_URL: must use http: or https:/)
  bad({ LOG_LEVEL: 'loud' }, /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/)
  bad({ AUDIT_RATE_LIMIT: '0' }, /AUDIT_RATE_LIMIT: must be an integer from 1 to 1000000/)
  bad({ MANAGEMENT_RATE_LIMIT: 'lots' }, /MANAGEMENT_RATE_LIMIT: must be an integer from 1 to 1000000/)
  bad({ REQUEST_TIMEOUT_MS: '5' }, /REQUEST_TIMEOUT_MS: must be an integer from 100 to 3600000/)
  bad({ PROPAGATION_TIMEOUT_MS: '60001' }, /PROPAGATION_TIMEOUT_MS: must be an integer from 0 to 60000/)
  bad({ PROPAGATION_TIMEOUT_MS: '2s' }, /PROPAGATION_TIMEOUT_MS: must be an integer from 0 to 60000/)
  bad({ REDIS_COMMAND_TIMEOUT_MS: '5' }, /REDIS_COMMAND_TIMEOUT_MS: must be an integer from 10 to 60000/)
  bad({ USAGE_FLUSH_MS: '20000' }, /USAGE_FLUSH_MS: must be an integer from 100 to 10000/)
  bad({ USAGE_FLUSH_MS: '10s' }, /USAGE_FLUSH_MS: must be an integer from 100 to 10000/)
  bad({ USAGE_RETENTION_DAYS: '1' }, /USAGE_RETENTION_DAYS: must be an integer from 2 to 3650/)
  bad({ USAGE_RECORDING: 'maybe' }, /USAGE_RECORDING: must be true or false/)
  const file = join(mkdtempSync(join(tmpdir(), 'mt-config-')), 'not-a-folder')
  writeFileSync(file, 'x')
  t.teardown(() => rmSync(dirname(file), { recursive: true, force: true }))
  bad({ DATA_DIR: file }, new RegExp(`DATA_DIR: ${file} is a file, not a folder`))
  bad({ FORWARD_AUTH_429_AS_403: 'yes' }, /FORWARD_AUTH_429_AS_403: must be true or false/)
  bad({ RAW_HTTP: 'off' }, /RAW_HTTP: must be true or false/)
  t.throws(() => loadConfig({ PORT: 'x', HOST: 'h', AUTH_FAILURE_LIMIT: '-1' }), /PORT[\s\S]*AUTH_FAILURE_LIMIT/, 'all problems at once')
})

t.test('notifications and webhooks: SMTP_URL, MAIL_FROM, NOTIFY_BEFORE, WEBHOOK_URL, WEBHOOK_SECRET', async (t) => {
  t.match(loadConfig({}), { smtpUrl: undefined, mailFrom: 'management-tokens@localhost', notifyBeforeMs: 7 * 86_400_000, webhookUrl: undefined, webhookSecret: undefined })
  t.match(
    loadConfig({
      SMTP_URL: 'smtps://user:pw@mail.example.com:465',
      MAIL_FROM: 'Tokens <tokens@example.com>',
      NOTIFY_BEFORE: '36h',
      WEBHOOK_URL: 'https://hooks.example.com/tokens',
      WEBHOOK_SECRET: 'whsec_0123456789abcdef',
    }),
    { smtpUrl: 'smtps://user:pw@mail.example.com:465', mailFrom: 'Tokens <tokens@example.com>', notifyBeforeMs: 36 * 3_600_000, webhookUrl: 'https://hooks.example.com/tokens' },
  )
  const before = (v: string) => loadConfig({ NOTIFY_BEFORE: v }).notifyBeforeMs
  t.equal(before('7d'), 7 * 86_400_000)
  t.equal(before('90m'), 90 * 60_000)
  t.equal(before('45s'), 45_000)
  t.equal(before('3600'), 3_600_000, 'a bare number is seconds')
  t.equal(loadConfig({ MAIL_FROM: 'a@b.co' }).mailFrom, 'a@b.co')
  const bad = (env: Record<string, string>, pattern: RegExp) => t.throws(() => loadConfig(env), pattern)
  bad({ NOTIFY_BEFORE: '7 weeks' }, /NOTIFY_BEFORE: must be a duration from 1s to 365d/)
  bad({ NOTIFY_BEFORE: '0' }, /NOTIFY_BEFORE: must be a duration/)
  bad({ NOTIFY_BEFORE: '400d' }, /NOTIFY_BEFORE: must be a duration/)
  bad({ SMTP_URL: 'http://mail.example.com' }, /SMTP_URL: must use smtp: or smtps:/)
  bad({ MAIL_FROM: 'not an address' }, /MAIL_FROM: must be an address/)
  bad({ WEBHOOK_URL: 'ftp://x' }, /WEBHOOK_URL: must use http: or https:/)
  bad({ WEBHOOK_URL: 'https://hooks.example.com' }, /WEBHOOK_SECRET: is required with WEBHOOK_URL/)
  const short = 'short-secret'
  t.throws(() => loadConfig({ WEBHOOK_URL: 'https://h.example.com', WEBHOOK_SECRET: short }), /WEBHOOK_SECRET: must be at least 16 characters/)
  try {
    loadConfig({ WEBHOOK_URL: 'https://h.example.com', WEBHOOK_SECRET: short })
  } catch (e) {
    t.notMatch((e as Error).message, short, 'the secret is not echoed')
  }
})

t.test('OpenID Connect and JWKS settings', async (t) => {
  t.match(loadConfig({}), { oidcIssuerUrl: undefined, oidcClientId: undefined, publicUrl: undefined, jwksUrl: undefined })
  t.match(
    loadConfig({
      OIDC_ISSUER_URL: 'https://id.example.com/tenant',
      OIDC_CLIENT_ID: 'console',
      OIDC_CLIENT_SECRET: 'shh',
      PUBLIC_URL: 'https://tokens.example.com/',
      AUTH_JWKS_URL: 'https://id.example.com/keys',
      AUTH_JWT_AUDIENCE: 'tokens-api',
    }),
    {
      oidcIssuerUrl: 'https://id.example.com/tenant',
      oidcClientId: 'console',
      oidcClientSecret: 'shh',
      publicUrl: 'https://tokens.example.com',
      jwksUrl: 'https://id.example.com/keys',
      jwtAudience: 'tokens-api',
      jwtIssuer: undefined,
    },
  )
  t.equal(loadConfig({ OIDC_ISSUER_URL: 'http://127.0.0.1:4000', OIDC_CLIENT_ID: 'c' }).oidcIssuerUrl, 'http://127.0.0.1:4000', 'http on loopback')
  t.equal(loadConfig({ OIDC_ISSUER_URL: 'http://localhost:4000', OIDC_CLIENT_ID: 'c' }).oidcIssuerUrl, 'http://localhost:4000')
  t.equal(loadConfig({ PUBLIC_URL: 'http://0.0.0.0:3000/base//' }).publicUrl, 'http://0.0.0.0:3000/base')
  t.match(loadConfig({ AUTH_JWKS_URL: 'https://id.example.com/keys', AUTH_JWT_ISSUER: 'https://id.example.com', AUTH_JWT_AUDIENCE: 'api' }), {
    jwksUrl: 'https://id.example.com/keys',
    jwtIssuer: 'https://id.example.com',
    jwtAudience: 'api',
  })

  const bad = (env: Record<string, string>, pattern: RegExp) => t.throws(() => loadConfig(env), pattern, JSON.stringify(env))
  bad({ OIDC_ISSUER_URL: 'http://id.example.com', OIDC_CLIENT_ID: 'c' }, /OIDC_ISSUER_URL: must be an https URL \(http only on localhost\)/)
  bad({ OIDC_ISSUER_URL: 'id.example.com', OIDC_CLIENT_ID: 'c' }, /OIDC_ISSUER_URL: must be a URL/)
  bad({ AUTH_JWKS_URL: 'ftp://id.example.com/keys', AUTH_JWT_ISSUER: 'i', AUTH_JWT_AUDIENCE: 'a' }, /AUTH_JWKS_URL: must be an https URL/)
  bad({ PUBLIC_URL: 'tokens.example.com' }, /PUBLIC_URL: must be a URL/)
  bad({ PUBLIC_URL: 'ftp://tokens.example.com' }, /PUBLIC_URL: must use http: or https:/)
  bad({ PUBLIC_URL: 'https://tokens.example.com/?a=1' }, /PUBLIC_URL: must have no query, fragment or credentials/)
  bad({ OIDC_ISSUER_URL: 'https://id.example.com' }, /OIDC_CLIENT_ID: is required with OIDC_ISSUER_URL/)
  bad({ OIDC_CLIENT_ID: 'c' }, /OIDC_ISSUER_URL: is required with OIDC_CLIENT_ID/)
  bad({ OIDC_CLIENT_SECRET: 's' }, /OIDC_CLIENT_SECRET: only applies with OIDC_ISSUER_URL/)
  bad({ AUTH_JWKS_URL: 'https://id.example.com/keys' }, /AUTH_JWT_ISSUER: is required with AUTH_JWKS_URL[\s\S]*AUTH_JWT_AUDIENCE: is required/)
  bad({ AUTH_JWT_ISSUER: 'i' }, /AUTH_JWT_ISSUER: only applies with AUTH_JWKS_URL or OIDC_ISSUER_URL/)
  bad({ AUTH_JWT_AUDIENCE: 'a' }, /AUTH_JWT_AUDIENCE: only applies/)
  t.throws(() => loadConfig({ OIDC_ISSUER_URL: 'https://id.example.com' }), ConfigError)
})

t.test('TRUST_PROXY and FORWARD_AUTH_PROXY', async (t) => {
  t.match(loadConfig({}), { trustProxy: false, forwardAuthProxy: 'any' }, 'by default no proxy is trusted, and any proxy form is read with the safety rules')
  t.equal(loadConfig({ TRUST_PROXY: 'none' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.same(loadConfig({ TRUST_PROXY: 'loopback' }).trustProxy, ['loopback'])
  t.same(loadConfig({ TRUST_PROXY: ' loopback, 10.0.0.0/8 ,192.0.2.7, fd00::/8, uniquelocal,linklocal' }).trustProxy, ['loopback', '10.0.0.0/8', '192.0.2.7', 'fd00::/8', 'uniquelocal', 'linklocal'])
  for (const bad of ['1', '2', 'everyone', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', '10.0.0.1/8/2', 'loopback,,'])
    t.throws(() => loadConfig({ TRUST_PROXY: bad }), { name: 'ConfigError', message: /TRUST_PROXY: / }, bad)
  t.throws(() => loadConfig({ TRUST_PROXY: '1' }), { message: /hop count cannot tell a proxy from a client/ })
  for (const proxy of ['any', 'traefik', 'nginx', 'envoy']) t.equal(loadConfig({ FORWARD_AUTH_PROXY: proxy }).forwardAuthProxy, proxy)
  t.throws(() => loadConfig({ FORWARD_AUTH_PROXY: 'haproxy' }), { name: 'ConfigError', message: /FORWARD_AUTH_PROXY/ })
})
