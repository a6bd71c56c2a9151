import { isIP } from 'node:net'
import { statSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { DEFAULT_HOST, jwtSecret, readSettings, settingLabel, signInChecks } from './config-secrets.js'
import { parseScanningKeys, type ScanningKeys } from './scanning-keys.js'

/** A string holding an integer within [min, max], decoded to a number. */
const intString = (name: string, min: number, max: number) =>
  new t.Type<number, string, unknown>(
    name,
    (u): u is number => typeof u === 'number',
    (u, c) => {
      if (typeof u !== 'string' || !/^\d+$/.test(u.trim())) return t.failure(u, c, `must be an integer from ${min} to ${max}`)
      const n = Number(u)
      return n >= min && n <= max ? t.success(n) : t.failure(u, c, `must be an integer from ${min} to ${max}`)
    },
    String,
  )

/**
 * A URL setting: a string that parses as a URL, then `check`ed, which returns the value to keep or
 * the problem (and, when the value holds a secret, what to show instead of it).
 */
const urlSetting = (name: string, check: (url: URL, raw: string) => string | { readonly problem: string; readonly shown?: string }) =>
  new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string',
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c, 'must be a URL')
      let url: URL
      try {
        url = new URL(u)
      } catch {
        return t.failure(u, c, 'must be a URL')
      }
      const kept = check(url, u)
      return typeof kept === 'string' ? t.success(kept) : t.failure(kept.shown ?? u, c, kept.problem)
    },
    String,
  )

const HTTP = ['http:', 'https:']
const schemeProblem = (url: URL, schemes: readonly string[]) => (schemes.includes(url.protocol) ? undefined : { problem: `must use ${schemes.join(' or ')}` })

const urlWith = (name: string, schemes: readonly string[]) => urlSetting(name, (url, raw) => schemeProblem(url, schemes) ?? raw)

/**
 * Where lifecycle webhooks go: http(s), without a user or password. fetch refuses a URL with
 * them, so such a setting would never deliver; a credential in the path or query is fine (logs
 * show the origin only).
 */
const webhookUrl = urlSetting('WEBHOOK_URL', (url, raw) =>
  schemeProblem(url, HTTP) ??
  (url.username || url.password
    ? // '[hidden]': the value holds the password, and is never echoed.
      { problem: 'must not carry a user or password (receivers check the signature made with WEBHOOK_SECRET)', shown: '[hidden]' }
    : raw),
)

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
/** An https URL, or http on a loopback host (a test or local identity provider). */
const secureUrl = (name: string) =>
  urlSetting(name, (url, raw) =>
    url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) ? raw : { problem: 'must be an https URL (http only on localhost)' },
  )

/** Where the service is reached from outside: an http(s) origin and optional path, without a trailing slash. */
const publicUrl = urlSetting('PUBLIC_URL', (url) =>
  schemeProblem(url, HTTP) ??
  (url.search || url.hash || url.username || url.password ? { problem: 'must have no query, fragment or credentials' } : url.href.replace(/\/+$/, '')),
)

/** SECRET_SCANNING_PUBLIC_KEYS: a PEM bundle of P-256 keys or the URL of a key list (src/scanning-keys.ts). */
const scanningKeys = new t.Type<ScanningKeys, string, unknown>(
  'SECRET_SCANNING_PUBLIC_KEYS',
  (u): u is ScanningKeys => typeof u === 'object' && u !== null,
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, 'must be a PEM bundle or a URL')
    const keys = parseScanningKeys(u)
    return 'problem' in keys ? t.failure('[not shown]', c, keys.problem) : t.success(keys)
  },
  () => '[keys]',
)

const boolString = new t.Type<boolean, string, unknown>(
  'boolean',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => (u === 'true' || u === '1' ? t.success(true) : u === 'false' || u === '0' ? t.success(false) : t.failure(u, c, 'must be true or false')),
  String,
)

const oneOf = (name: string, values: readonly string[]) =>
  new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string' && values.includes(u),
    (u, c) => (typeof u === 'string' && values.includes(u) ? t.success(u) : t.failure(u, c, `must be one of ${values.join(', ')} (got ${JSON.stringify(u)})`)),
    String,
  )

/** DATA_DIR must be a folder, or not exist yet (it is created); a file there is a plain mistake. */
const checkDataDir = (dir: string): void => {
  let stat
  try {
    stat = statSync(dir)
  } catch {
    return
  }
  if (!stat.isDirectory()) throw new ConfigError(`Invalid configuration:\n  DATA_DIR: ${dir} is a file, not a folder; point DATA_DIR at a folder (it is created if missing)`)
}
const DURATION = /^(\d+)\s*(s|m|h|d)?$/
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const
const MAX_NOTIFY_BEFORE_MS = 365 * UNIT_MS.d
/** `7d`, `36h`, `90m`, `45s` or a bare number of seconds, as milliseconds (1 s to 365 days). */
const duration = (name: string) =>
  new t.Type<number, string, unknown>(
    name,
    (u): u is number => typeof u === 'number',
    (u, c) => {
      const m = typeof u === 'string' ? DURATION.exec(u.trim()) : null
      const ms = m ? Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS] : Number.NaN
      return ms >= 1000 && ms <= MAX_NOTIFY_BEFORE_MS
        ? t.success(ms)
        : t.failure(u, c, 'must be a duration from 1s to 365d such as 7d, 36h, 90m or a number of seconds')
    },
    String,
  )

/** `a@b.c` or `Name <a@b.c>`: the From of expiry notices. */
const mailbox = new t.Type<string, string, unknown>(
  'MAIL_FROM',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && /^(?:[^<>@\r\n]*<[^\s<>@]+@[^\s<>@]+>|[^\s<>@]+@[^\s<>@]+)$/.test(u.trim())
      ? t.success(u.trim())
      : t.failure(u, c, 'must be an address such as tokens@example.com or "Tokens <tokens@example.com>"'),
  String,
)

const secretString = (name: string, min: number) =>
  new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string',
    // The value itself is never echoed in the message.
    (u, c) => (typeof u === 'string' && u.length >= min ? t.success(u) : t.failure('[hidden]', c, `must be at least ${min} characters`)),
    String,
  )

/**
 * Whose X-Forwarded-For is believed (only a trusted client address feeds the failed-authentication
 * limiter, the audit log's `remote_addr` and tokens' `allowed_ips`), in the forms fastify's `trustProxy` takes:
 * `false` (none: the socket address is the client), `true` (every hop), or a list of addresses,
 * CIDR ranges and the names `loopback`, `linklocal`, `uniquelocal`. A hop count is refused:
 * it cannot check who the immediate peer is, so fastify 5 trusts nothing for one, and a setting
 * that silently does nothing is worse than an error.
 */
export type TrustProxy = boolean | readonly string[]
const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal'])
const isTrustEntry = (e: string) => {
  if (PROXY_NAMES.has(e) || isIP(e) !== 0) return true
  const [ip, bits, extra] = e.split('/')
  if (extra !== undefined || ip === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false
  const v = isIP(ip)
  return v !== 0 && Number(bits) <= (v === 4 ? 32 : 128)
}
const trustProxy = new t.Type<TrustProxy, string, unknown>(
  'TRUST_PROXY',
  (u): u is TrustProxy => typeof u === 'boolean' || Array.isArray(u),
  (u, c) => {
    const s = typeof u === 'string' ? u.trim() : ''
    if (s === 'false' || s === 'none') return t.success(false)
    if (s === 'true') return t.success(true)
    if (/^\d+$/.test(s))
      return t.failure(u, c, 'a hop count cannot tell a proxy from a client; list the proxies\' addresses or CIDR ranges (or loopback)')
    const entries = s.split(',').map((e) => e.trim())
    const bad = entries.filter((e) => !isTrustEntry(e))
    return bad.length === 0
      ? t.success(entries)
      : t.failure(u, c, `must be none, true, or a comma-separated list of addresses, CIDR ranges, loopback, linklocal or uniquelocal (not ${JSON.stringify(bad[0])})`)
  },
  (v) => (Array.isArray(v) ? v.join(',') : String(v)),
)

const Env = t.partial({
  PORT: intString('PORT', 0, 65535),
  HOST: t.string,
  EVENT_STORE_URL: urlWith('EVENT_STORE_URL', ['sqlite:', 'esdb:', 'esdb+discover:']),
  DATA_DIR: t.string,
  REDIS_URL: urlWith('REDIS_URL', ['redis:', 'rediss:']),
  AUTH_JWT_SECRET: jwtSecret,
  AUTH_JWT_PUBLIC_KEY: t.string,
  PLAN_READ_LIMIT: intString('PLAN_READ_LIMIT', 1, 1_000_000),
  PLAN_WRITE_LIMIT: intString('PLAN_WRITE_LIMIT', 1, 1_000_000),
  MAX_TOKENS_PER_STACK: intString('MAX_TOKENS_PER_STACK', 1, 100_000),
  /** Size limits that keep one stack's commands cheap (docs/limits.md). */
  MAX_MEMBERS_PER_STACK: intString('MAX_MEMBERS_PER_STACK', 1, 1_000_000),
  MAX_EMAILS_PER_SHARE: intString('MAX_EMAILS_PER_SHARE', 1, 10_000),
  MAX_STACKS_PER_USER: intString('MAX_STACKS_PER_USER', 1, 1_000_000),
  UPSTREAM_URL: urlWith('UPSTREAM_URL', HTTP),
  LOG_LEVEL: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  /**
   * nginx auth_request passes only 2xx, 401 and 403: answer every other denial (412, 422, 429) as
   * 403 carrying the real status and body in x-mt-status and x-mt-error-body, for nginx to restore.
   */
  FORWARD_AUTH_429_AS_403: boolString,
  /**
   * Forward-auth's common requests read from the connection's bytes and answered before Node's
   * HTTP parser and fastify (src/raw-http/, src/authorizer/fast-path.ts); `false`: every request
   * is read by Node's parser and answered by fastify's routes.
   */
  RAW_HTTP: boolString,
  /** Failed authentications allowed per client address per minute before 429. */
  AUTH_FAILURE_LIMIT: intString('AUTH_FAILURE_LIMIT', 1, 1_000_000),
  /** Audit-log requests per user (authtoken) per minute before 429: an as-of folds a stack's whole history. */
  AUDIT_RATE_LIMIT: intString('AUDIT_RATE_LIMIT', 1, 1_000_000),
  /** Stack and token requests per user (authtoken) per minute before 429. */
  MANAGEMENT_RATE_LIMIT: intString('MANAGEMENT_RATE_LIMIT', 1, 1_000_000),
  /** Longest wait for a request's headers and body, and longest idle keep-alive connection. */
  REQUEST_TIMEOUT_MS: intString('REQUEST_TIMEOUT_MS', 100, 3_600_000),
  /**
   * Longest wait, after a change that withdraws access (revoke, rotation with no grace, a scope or
   * expiry change), for every live instance to confirm it has applied the change before answering.
   */
  PROPAGATION_TIMEOUT_MS: intString('PROPAGATION_TIMEOUT_MS', 0, 60_000),
  /** Longest wait for a rate-limit count in Redis before this instance counts in memory. */
  REDIS_COMMAND_TIMEOUT_MS: intString('REDIS_COMMAND_TIMEOUT_MS', 10, 60_000),
  /** Whether the authorizer counts each token's decisions and last use (docs/usage.md). */
  USAGE_RECORDING: boolString,
  /** How often an instance writes its usage counts to the shared store (ms). */
  USAGE_FLUSH_MS: intString('USAGE_FLUSH_MS', 100, 10_000),
  /** How long hour buckets of usage are kept (days). */
  USAGE_RETENTION_DAYS: intString('USAGE_RETENTION_DAYS', 2, 3650),
  /** Expiry notices: SMTP server (`smtp://user:pass@host:587`); unset: `.eml` files in DATA_DIR/outbox/. */
  SMTP_URL: urlWith('SMTP_URL', ['smtp:', 'smtps:']),
  MAIL_FROM: mailbox,
  NOTIFY_BEFORE: duration('NOTIFY_BEFORE'),
  /** Lifecycle webhooks, signed with WEBHOOK_SECRET (required with it). */
  WEBHOOK_URL: webhookUrl,
  WEBHOOK_SECRET: secretString('WEBHOOK_SECRET', 16),
  /** Keys that sign GitHub's leaked-secret reports; without them reports are accepted unsigned. */
  SECRET_SCANNING_PUBLIC_KEYS: scanningKeys,
  /** OpenID Connect sign-in for the console (issue 12). */
  OIDC_ISSUER_URL: secureUrl('OIDC_ISSUER_URL'),
  OIDC_CLIENT_ID: t.string,
  OIDC_CLIENT_SECRET: t.string,
  PUBLIC_URL: publicUrl,
  /** Verify authtokens against this JWKS instead of the one the issuer's metadata names. */
  AUTH_JWKS_URL: secureUrl('AUTH_JWKS_URL'),
  /** The `iss` and `aud` JWKS-verified authtokens must carry (default: the OIDC issuer and client id). */
  AUTH_JWT_ISSUER: t.string,
  AUTH_JWT_AUDIENCE: t.string,
  TRUST_PROXY: trustProxy,
  /** Which proxy's headers describe the original request on /v3/authorize (`any`: every set present must agree). */
  FORWARD_AUTH_PROXY: t.keyof({ any: null, traefik: null, nginx: null, envoy: null }),
  /** `production` refuses development sign-in and requires a way to verify authtokens. */
  NODE_ENV: t.string,
  /** Password-less sign-in for development (`POST /v3/user-session`); `serve --development` sets it. */
  DEV_SIGNIN: boolString,
})

/** Settings that only make sense together; each message names the variable to set. */
const crossChecks = (e: t.TypeOf<typeof Env>): string[] => {
  const problems: string[] = []
  if (e.OIDC_ISSUER_URL && !e.OIDC_CLIENT_ID) problems.push('OIDC_CLIENT_ID: is required with OIDC_ISSUER_URL')
  if (e.OIDC_CLIENT_ID && !e.OIDC_ISSUER_URL) problems.push('OIDC_ISSUER_URL: is required with OIDC_CLIENT_ID')
  if (e.OIDC_CLIENT_SECRET && !e.OIDC_ISSUER_URL) problems.push('OIDC_CLIENT_SECRET: only applies with OIDC_ISSUER_URL')
  if (e.AUTH_JWKS_URL && !e.OIDC_ISSUER_URL) {
    if (!e.AUTH_JWT_ISSUER) problems.push('AUTH_JWT_ISSUER: is required with AUTH_JWKS_URL (the iss to accept), unless OIDC_ISSUER_URL is set')
    if (!e.AUTH_JWT_AUDIENCE) problems.push('AUTH_JWT_AUDIENCE: is required with AUTH_JWKS_URL (the aud to accept), unless OIDC_CLIENT_ID is set')
  }
  if (e.WEBHOOK_URL && !e.WEBHOOK_SECRET) problems.push('WEBHOOK_SECRET: is required with WEBHOOK_URL')
  if (!e.AUTH_JWKS_URL && !e.OIDC_ISSUER_URL)
    for (const k of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'] as const)
      if (e[k]) problems.push(`${k}: only applies with AUTH_JWKS_URL or OIDC_ISSUER_URL`)
  return problems
}

export interface Config {
  readonly port: number
  readonly host: string
  readonly eventStoreUrl: string | undefined
  readonly dataDir: string
  readonly redisUrl: string | undefined
  readonly jwtSecret: string | undefined
  readonly jwtPublicKey: string | undefined
  readonly planReadLimit: number
  readonly planWriteLimit: number
  readonly maxTokensPerStack: number
  /** People with access to one stack, its owner included. */
  readonly maxMembersPerStack: number
  readonly maxEmailsPerShare: number
  /** Stacks one user may create. */
  readonly maxStacksPerUser: number
  readonly upstreamUrl: string | undefined
  readonly logLevel: string
  readonly forwardAuth429As403: boolean
  /** RAW_HTTP: forward-auth's raw path (the socket reader and the fast handler) is on. */
  readonly rawHttp: boolean
  readonly authFailureLimit: number
  /** Audit-log requests per user per minute. */
  readonly auditRateLimit: number
  /** Stack and token requests per user per minute. */
  readonly managementRateLimit: number
  readonly requestTimeoutMs: number
  /** How long a withdrawing change waits for the other live instances to confirm it (ms). */
  readonly propagationTimeoutMs: number
  /** How long a rate-limit count may wait on Redis before the limiter counts in memory (ms). */
  readonly redisCommandTimeoutMs: number
  /** USAGE_RECORDING: the authorizer counts decisions per token (docs/usage.md). */
  readonly usageRecording: boolean
  /** How often usage counts are flushed to the shared store (ms). */
  readonly usageFlushMs: number
  /** How long hour buckets of usage are kept (days); minute buckets are kept 48 hours. */
  readonly usageRetentionDays: number
  readonly smtpUrl: string | undefined
  readonly mailFrom: string
  /** How long before a token expires its notice is due (ms). */
  readonly notifyBeforeMs: number
  readonly webhookUrl: string | undefined
  readonly webhookSecret: string | undefined
  /** With it, a leaked-secret report in GitHub's (array) form must carry a signature by one of these keys. */
  readonly secretScanningKeys: ScanningKeys | undefined
  readonly oidcIssuerUrl: string | undefined
  readonly oidcClientId: string | undefined
  readonly oidcClientSecret: string | undefined
  /** The service's external URL (the OIDC redirect URI and the console URL are built on it). */
  readonly publicUrl: string | undefined
  readonly jwksUrl: string | undefined
  readonly jwtIssuer: string | undefined
  readonly jwtAudience: string | undefined
  readonly trustProxy: TrustProxy
  readonly forwardAuthProxy: 'any' | 'traefik' | 'nginx' | 'envoy'
  /** DEV_SIGNIN: `POST /v3/user-session` mints authtokens for any email with the local development secret. */
  readonly devSignIn: boolean
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/**
 * Validates the environment at start; a bad value is a ConfigError naming the variable. Secret
 * settings may come from `NAME_FILE` (src/config-secrets.ts); their values never reach a message.
 */
export const loadConfig = (env: Record<string, string | undefined> = process.env): Config => {
  const settings = readSettings(env)
  const present = Object.fromEntries(Object.entries(settings.env).filter(([, v]) => v !== undefined && v !== ''))
  return pipe(
    Env.decode(present),
    E.mapLeft((errors) =>
      errors.map((e) => {
        const key = e.context.map((c) => c.key).filter(Boolean).join('.')
        // Secret settings' codecs fail with a message (or cannot fail on a string): no value is echoed.
        return `${settingLabel(key, settings.fromFile)}: ${e.message ?? `invalid value ${JSON.stringify(e.value)}`}`
      }),
    ),
    E.mapLeft((problems) => [...settings.problems, ...problems]),
    E.chainFirst((e) => {
      // A secret that could not be read would make the checks below report it missing as well.
      const problems = settings.problems.length > 0 ? settings.problems : [...crossChecks(e), ...signInChecks(e)]
      return problems.length === 0 ? E.right(e) : E.left(problems)
    }),
    E.map(
      (e): Config => ({
        port: e.PORT ?? 3000,
        host: e.HOST ?? DEFAULT_HOST,
        eventStoreUrl: e.EVENT_STORE_URL,
        dataDir: e.DATA_DIR ?? './data',
        redisUrl: e.REDIS_URL,
        jwtSecret: e.AUTH_JWT_SECRET,
        jwtPublicKey: e.AUTH_JWT_PUBLIC_KEY,
        planReadLimit: e.PLAN_READ_LIMIT ?? 10,
        planWriteLimit: e.PLAN_WRITE_LIMIT ?? 10,
        maxTokensPerStack: e.MAX_TOKENS_PER_STACK ?? 30,
        maxMembersPerStack: e.MAX_MEMBERS_PER_STACK ?? 1000,
        maxEmailsPerShare: e.MAX_EMAILS_PER_SHARE ?? 100,
        maxStacksPerUser: e.MAX_STACKS_PER_USER ?? 100,
        upstreamUrl: e.UPSTREAM_URL,
        logLevel: e.LOG_LEVEL ?? 'info',
        forwardAuth429As403: e.FORWARD_AUTH_429_AS_403 ?? false,
        rawHttp: e.RAW_HTTP ?? true,
        authFailureLimit: e.AUTH_FAILURE_LIMIT ?? 30,
        auditRateLimit: e.AUDIT_RATE_LIMIT ?? 60,
        managementRateLimit: e.MANAGEMENT_RATE_LIMIT ?? 600,
        requestTimeoutMs: e.REQUEST_TIMEOUT_MS ?? 30_000,
        propagationTimeoutMs: e.PROPAGATION_TIMEOUT_MS ?? 2000,
        redisCommandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS ?? 100,
        usageRecording: e.USAGE_RECORDING ?? true,
        usageFlushMs: e.USAGE_FLUSH_MS ?? 10_000,
        usageRetentionDays: e.USAGE_RETENTION_DAYS ?? 90,
        smtpUrl: e.SMTP_URL,
        mailFrom: e.MAIL_FROM ?? 'management-tokens@localhost',
        notifyBeforeMs: e.NOTIFY_BEFORE ?? 7 * 86_400_000,
        webhookUrl: e.WEBHOOK_URL,
        webhookSecret: e.WEBHOOK_SECRET,
        secretScanningKeys: e.SECRET_SCANNING_PUBLIC_KEYS,
        oidcIssuerUrl: e.OIDC_ISSUER_URL,
        oidcClientId: e.OIDC_CLIENT_ID,
        oidcClientSecret: e.OIDC_CLIENT_SECRET,
        publicUrl: e.PUBLIC_URL,
        jwksUrl: e.AUTH_JWKS_URL,
        jwtIssuer: e.AUTH_JWT_ISSUER,
        jwtAudience: e.AUTH_JWT_AUDIENCE,
        trustProxy: e.TRUST_PROXY ?? false,
        forwardAuthProxy: e.FORWARD_AUTH_PROXY ?? 'any',
        devSignIn: e.DEV_SIGNIN ?? false,
      }),
    ),
    E.map((config) => {
      checkDataDir(config.dataDir)
      return config
    }),
    E.getOrElse((lines): Config => {
      throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`)
    }),
  )
}

/** Test and tool defaults: everything from the environment-free defaults, with overrides. */
export const testConfig = (overrides: Partial<Config> = {}): Config => ({ ...loadConfig({}), ...overrides })
