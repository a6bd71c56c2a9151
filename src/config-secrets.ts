import { readFileSync } from 'node:fs'
import { BlockList, isIP } from 'node:net'
import * as t from 'io-ts'

/**
 * Settings that hold a secret (or credentials inside a URL). Each can also be given as
 * `NAME_FILE`, a path to a file holding the value, as Docker and Kubernetes mount secrets.
 */
export const SECRET_SETTINGS = [
  'AUTH_JWT_SECRET',
  'AUTH_JWT_PUBLIC_KEY',
  'WEBHOOK_SECRET',
  'OIDC_CLIENT_SECRET',
  'SMTP_URL',
  'REDIS_URL',
  'EVENT_STORE_URL',
] as const

/** Any one of these verifies authtokens without a development secret. */
const KEY_SETTINGS = ['AUTH_JWT_SECRET', 'AUTH_JWT_PUBLIC_KEY', 'AUTH_JWKS_URL', 'OIDC_ISSUER_URL'] as const
/**
 * Identity settings may not be blank: `AUTH_JWT_SECRET=` (an unset compose variable, an empty
 * Kubernetes secret) would otherwise count as absent and fall back to a development secret.
 */
const IDENTITY_SETTINGS = [...KEY_SETTINGS, 'AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] as const

const isBlank = (v: string | undefined): v is string => v !== undefined && v.trim() === ''
const isSet = (v: string | undefined): v is string => v !== undefined && v !== ''

/** The value docker-compose.yml used to default to: public, so never a secret. */
const PLACEHOLDER_SECRETS = new Set(['local-development-secret-change-me'])
export const MIN_JWT_SECRET_BYTES = 32

/** AUTH_JWT_SECRET: at least 32 bytes, and not a published placeholder; never echoed. */
export const jwtSecret = new t.Type<string, string, unknown>(
  'AUTH_JWT_SECRET',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    if (typeof u !== 'string') return t.failure('[hidden]', c, 'must be a string')
    if (PLACEHOLDER_SECRETS.has(u)) return t.failure('[hidden]', c, 'is the placeholder once shipped in docker-compose.yml; set a random secret (openssl rand -hex 32)')
    if (Buffer.byteLength(u, 'utf8') < MIN_JWT_SECRET_BYTES)
      return t.failure('[hidden]', c, `must be at least ${MIN_JWT_SECRET_BYTES} bytes (openssl rand -hex 32 makes one)`)
    return t.success(u)
  },
  String,
)

const unreadable = (name: string, path: string, e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return `${name}: ${path} does not exist`
  if (code === 'EISDIR') return `${name}: ${path} is a folder, not a file`
  return `${name}: ${path} cannot be read (${code})`
}

export interface Settings {
  /** The environment with every `NAME_FILE` read into `NAME`. */
  readonly env: Record<string, string | undefined>
  /** Settings whose value came from a file: their messages name the file variable too. */
  readonly fromFile: ReadonlySet<string>
  readonly problems: readonly string[]
}

/**
 * Reads `NAME_FILE` settings (one trailing newline trimmed, as `echo` and editors leave one) and
 * refuses blank identity settings. Messages name the variable and the path, never a value.
 */
export const readSettings = (env: Record<string, string | undefined>): Settings => {
  const out = { ...env }
  const fromFile = new Set<string>()
  const problems: string[] = []
  for (const name of IDENTITY_SETTINGS)
    if (isBlank(env[name])) {
      problems.push(`${name}: is set but blank; give it a value or unset it`)
      delete out[name]
    }
  for (const name of SECRET_SETTINGS) {
    const fileVar = `${name}_FILE`
    const path = env[fileVar]
    if (path === undefined) continue
    if (isBlank(path)) {
      problems.push(`${fileVar}: is set but blank; give the path of the file holding ${name}, or unset it`)
      continue
    }
    if (isSet(env[name])) {
      problems.push(`${name} and ${fileVar}: both are set; give one`)
      continue
    }
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (e) {
      problems.push(unreadable(fileVar, path, e))
      continue
    }
    const value = text.replace(/\r?\n$/, '')
    if (value.trim() === '') {
      problems.push(`${fileVar}: ${path} is empty`)
      continue
    }
    out[name] = value
    fromFile.add(name)
  }
  return { env: out, fromFile, problems }
}

/** How a variable is named in a message: with the file it was read from, if any. */
export const settingLabel = (name: string, fromFile: ReadonlySet<string>): string =>
  fromFile.has(name) ? `${name} (from ${name}_FILE)` : name

/** Where the service listens without HOST: this machine only. */
export const DEFAULT_HOST = '127.0.0.1'

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6')

/** `localhost`, 127.0.0.0/8 or ::1: only this machine can connect. */
export const isLoopbackHost = (host: string): boolean => {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (h === 'localhost') return true
  const v = isIP(h)
  return v !== 0 && LOOPBACK.check(h, v === 4 ? 'ipv4' : 'ipv6')
}

type Decoded = Partial<Record<(typeof KEY_SETTINGS)[number] | 'NODE_ENV' | 'HOST', string>> & { readonly DEV_SIGNIN?: boolean }

/**
 * Development sign-in (`POST /v3/user-session` mints an authtoken for any email) only where no
 * one else can reach it; and a production start without any way to verify authtokens stops,
 * rather than making up a development secret.
 */
export const signInChecks = (e: Decoded): string[] => {
  const problems: string[] = []
  const keys = KEY_SETTINGS.filter((k) => e[k] !== undefined)
  const production = e.NODE_ENV === 'production'
  if (production && keys.length === 0)
    problems.push(
      `AUTH_JWT_SECRET: is required with NODE_ENV=production (at least ${MIN_JWT_SECRET_BYTES} random bytes), unless AUTH_JWT_PUBLIC_KEY, AUTH_JWKS_URL or OIDC_ISSUER_URL is set`,
    )
  if (e.DEV_SIGNIN === true) {
    const host = e.HOST ?? DEFAULT_HOST
    if (production) problems.push('DEV_SIGNIN: is refused with NODE_ENV=production (it signs anyone in as any email, without a password)')
    if (!isLoopbackHost(host))
      problems.push(`DEV_SIGNIN: is refused with HOST=${host}, which is not a loopback address (anyone reaching the port could sign in as anyone)`)
    if (keys.length > 0) problems.push(`DEV_SIGNIN: only applies without ${keys.join(', ')} (it signs in with the local development secret)`)
  }
  return problems
}

/**
 * What `serve --development` (`npm start`) adds: DEV_SIGNIN=true, unless it is set, or the
 * environment is a production one, listens beyond this machine, or names a way to verify
 * authtokens. Everything else is left to the environment.
 */
export const developmentDefaults = (env: Record<string, string | undefined>): Record<string, string | undefined> => {
  const keyed = KEY_SETTINGS.some((k) => env[k] !== undefined || env[`${k}_FILE`] !== undefined)
  const host = isSet(env.HOST) ? env.HOST : DEFAULT_HOST
  if (isSet(env.DEV_SIGNIN) || env.NODE_ENV === 'production' || keyed || !isLoopbackHost(host)) return env
  return { ...env, DEV_SIGNIN: 'true' }
}
