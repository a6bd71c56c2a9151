import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { Registry } from 'prom-client'
import { PROJECTIONS } from '../../projections/index.js'
import { type Config, testConfig } from '../../src/config.js'
import type { RateLimit, Scope } from '../../src/domain/scope.js'
import { hashSecret, newSecret as issueSecret } from '../../src/domain/secret.js'
import type { EventStore } from '../../src/eventstore/port.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { Projector } from '../../src/read/projector.js'
import { openReadModels, type ServiceDeps } from '../../src/service.js'
import { storeTarget } from './store-under-test.js'

/** The subset of a tap Test the fixtures use. */
interface Teardown {
  teardown(fn: () => unknown): void
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
export const newApiKey = () => `blt${hex(8)}`
/** A secret as the service issues it (src/domain/secret.ts). */
export const newSecret = () => issueSecret(randomBytes).secret

export const ALL_SCOPE: Scope = [{ module: '$all', acl: { read: true, write: true } }]

export interface TokenOptions {
  readonly scope?: Scope
  /** ISO instant or null (never). */
  readonly expires_on?: string | null
  readonly rate_limit?: RateLimit | null
  /** Canonical entries (src/domain/allowed-ips.ts); absent: none, any address. */
  readonly allowed_ips?: readonly string[]
}

export interface Instance {
  readonly deps: ServiceDeps
  readonly dir: string
}

export interface AuthorizerFixture extends Instance {
  /** The fake clock behind `deps.clock`: read or set `clock.ms`. */
  readonly clock: { ms: number }
  /** Appends one event to the stack's stream; resolves with its position (not yet projected). */
  append(apiKey: string, type: string, data: Record<string, unknown>): Promise<number>
  /** Appends and waits until this instance's read models include the event, as a command does before it answers. */
  given(apiKey: string, type: string, data: Record<string, unknown>): Promise<number>
  createStack(): Promise<string>
  generateToken(apiKey: string, options?: TokenOptions): Promise<{ uid: string; secret: string }>
  revoke(apiKey: string, uid: string): Promise<number>
  changeScope(apiKey: string, uid: string, scope: Scope): Promise<number>
  changeLimits(apiKey: string, uid: string, rate_limit: RateLimit | null): Promise<number>
  changeExpiry(apiKey: string, uid: string, expires_on: string | null): Promise<number>
  changeAllowedIps(apiKey: string, uid: string, allowed_ips: readonly string[]): Promise<number>
  /** Rotates to a new secret; the old one keeps working for `graceMs` (from the fake clock). */
  rotate(apiKey: string, uid: string, oldSecret: string, graceMs: number): Promise<{ secret: string; position: number }>
  /** Another instance: its own read-model DB and projector, subscribed to the same event store. */
  secondInstance(pollIntervalMs?: number): Promise<Instance & { readonly projector: Projector }>
}

const closeInstance = async (projector: Projector, store: EventStore, deps: ServiceDeps) => {
  await projector.stop()
  await store.close()
  deps.readDb.close()
}

/**
 * A service instance without HTTP: a SQLite event store in a temp dir, read models projected by
 * the real projections. Events are appended directly, so tests need no management routes.
 */
export const authorizerFixture = async (t: Teardown, config: Partial<Config> = {}): Promise<AuthorizerFixture> => {
  const dir = mkdtempSync(join(tmpdir(), 'authz-'))
  const target = await storeTarget(t, dir)
  const clock = { ms: Date.parse('2030-01-01T00:00:00.000Z') }
  const store = target.open()
  const readDb = openReadModels(join(dir, 'a'))
  const projector = new Projector(readDb, store, PROJECTIONS)
  projector.start()
  const deps: ServiceDeps = {
    config: testConfig({ dataDir: join(dir, 'a'), logLevel: 'silent', ...config }),
    store,
    readDb,
    projector,
    clock: () => new Date(clock.ms),
    randomBytes,
    metrics: new Registry(),
  }
  const others: Array<() => Promise<void>> = []
  t.teardown(async () => {
    for (const close of others) await close()
    await closeInstance(projector, store, deps)
    rmSync(dir, { recursive: true, force: true })
  })

  const append = async (apiKey: string, type: string, data: Record<string, unknown>) => {
    const metadata = {
      actor: 'user-owner',
      occurred_at: new Date(clock.ms).toISOString(),
      request_id: randomUUID(),
      remote_addr: '127.0.0.1',
      schema_version: 1,
    }
    const r = await store.append(stackStream(apiKey), [{ id: randomUUID(), type, data: { api_key: apiKey, ...data }, metadata }], 'any')
    if (E.isLeft(r)) throw new Error(`append failed: ${JSON.stringify(r.left)}`)
    return r.right.position
  }
  const given = async (apiKey: string, type: string, data: Record<string, unknown>) => {
    const position = await append(apiKey, type, data)
    await projector.waitFor(position)
    return position
  }

  return {
    deps,
    dir,
    clock,
    append,
    given,
    async createStack() {
      const apiKey = newApiKey()
      await given(apiKey, 'StackCreated', { name: 'Stack', description: '', owner_email: 'owner@example.com', owner_uid: 'user-owner' })
      return apiKey
    },
    async generateToken(apiKey, options = {}) {
      const uid = `blt${hex(8)}`
      const secret = newSecret()
      await given(apiKey, 'TokenGenerated', {
        token_uid: uid,
        name: `token ${uid}`,
        description: '',
        scope: options.scope ?? ALL_SCOPE,
        expires_on: options.expires_on ?? null,
        rate_limit: options.rate_limit ?? null,
        is_email_notification_enabled: false,
        secret_hash: hashSecret(secret),
        ...(options.allowed_ips ? { allowed_ips: options.allowed_ips } : {}),
      })
      return { uid, secret }
    },
    revoke: (apiKey, uid) => given(apiKey, 'TokenRevoked', { token_uid: uid }),
    changeScope: (apiKey, uid, scope) => given(apiKey, 'TokenScopeChanged', { token_uid: uid, scope }),
    changeLimits: (apiKey, uid, rate_limit) => given(apiKey, 'TokenLimitsChanged', { token_uid: uid, rate_limit }),
    changeExpiry: (apiKey, uid, expires_on) => given(apiKey, 'TokenExpiryChanged', { token_uid: uid, expires_on }),
    changeAllowedIps: (apiKey, uid, allowed_ips) => given(apiKey, 'TokenAllowedIpsChanged', { token_uid: uid, allowed_ips }),
    async rotate(apiKey, uid, oldSecret, graceMs) {
      const secret = newSecret()
      const position = await given(apiKey, 'TokenRotated', {
        token_uid: uid,
        secret_hash: hashSecret(secret),
        previous_secret_hash: hashSecret(oldSecret),
        previous_expires_at: new Date(clock.ms + graceMs).toISOString(),
      })
      return { secret, position }
    },
    async secondInstance(pollIntervalMs = 20) {
      const store2 = target.open({ pollIntervalMs })
      const dir2 = join(dir, `b-${others.length}`)
      const readDb2 = openReadModels(dir2)
      const projector2 = new Projector(readDb2, store2, PROJECTIONS)
      projector2.start()
      const deps2: ServiceDeps = { ...deps, config: { ...deps.config, dataDir: dir2 }, store: store2, readDb: readDb2, projector: projector2, metrics: new Registry() }
      others.push(() => closeInstance(projector2, store2, deps2))
      await projector2.waitFor(projector.position)
      return { deps: deps2, dir: dir2, projector: projector2 }
    },
  }
}

/**
 * Fake wall clock for the rate-limit stores (@fastify/rate-limit's LocalStore reads Date.now()):
 * frozen at `start`, moved only by the test, restored at teardown.
 */
export const fakeWallClock = (t: Teardown, start = Date.parse('2030-01-01T00:00:00.000Z')) => {
  const real = Date.now
  let now = start
  Date.now = () => now
  t.teardown(() => {
    Date.now = real
  })
  return {
    advance(ms: number) {
      now += ms
    },
    get now() {
      return now
    },
  }
}

/** A request the authorizer decides, with defaults for the fields a test does not care about. */
export const input = (over: Partial<{ method: string; path: string; apiKey: string; authorization: string; branch: string; clientAddress: string }>) => ({
  method: 'GET',
  path: '/v3/content_types',
  apiKey: undefined,
  authorization: undefined,
  branch: undefined,
  ...over,
})
