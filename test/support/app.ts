import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import * as E from 'fp-ts/lib/Either.js'
import type { Level } from 'pino'
import type { Test } from 'tap'
import { testConfig, type Config } from '../../src/config.js'
import { openEventStore } from '../../src/eventstore/open.js'
import { EventStoreUnavailable, type EventStore } from '../../src/eventstore/port.js'
import { stackStream } from '../../src/eventstore/streams.js'
import type { AppOptions as BuildAppOptions } from '../../src/http/app.js'
import { serviceLogger } from '../../src/logger.js'
import { mintAuthtoken } from '../../src/http/auth.js'
import type { Scheduler } from '../../src/react/scheduler.js'
import { openApp, type Service } from '../../src/service.js'
import { onDouble, storeTarget } from './store-under-test.js'

export const JWT_SECRET = 'test-secret-of-at-least-32-bytes-0123456789'
/** Where a fake clock starts: tests that care about time move it explicitly. */
export const START = new Date('2026-03-01T12:00:00.000Z')

/** A clock tests move by hand: `clock.now()` is what the service reads. */
export interface FakeClock {
  readonly now: () => Date
  advance(ms: number): void
  set(at: Date): void
}

export const fakeClock = (start = START): FakeClock => {
  let ms = start.getTime()
  return {
    now: () => new Date(ms),
    advance: (by) => {
      ms += by
    },
    set: (at) => {
      ms = at.getTime()
    },
  }
}

/**
 * An event store that delegates to a real one until a fault is switched on: every append then
 * conflicts, or the store is unreachable, or it fails with an unexpected error.
 */
export type Fault = 'none' | 'conflict' | 'unavailable' | 'boom'
export class FaultyStore implements EventStore {
  fault: Fault = 'none'
  appendCalls = 0
  /** Real version conflicts the inner store reported. */
  conflicts = 0
  /** Widen the read-decide-append window so that instances really race. */
  yieldAfterRead = false
  constructor(private readonly inner: EventStore) {}

  private check(): void {
    if (this.fault === 'unavailable') throw new EventStoreUnavailable('connection refused (test fault)')
    if (this.fault === 'boom') throw new Error('disk on fire (test fault)')
  }

  async readStream(...args: Parameters<EventStore['readStream']>) {
    this.check()
    const events = await this.inner.readStream(...args)
    // Let other work (another instance's command) run between this read and the append that follows.
    if (this.yieldAfterRead) await new Promise((resolve) => setImmediate(resolve))
    return events
  }

  async append(...args: Parameters<EventStore['append']>): ReturnType<EventStore['append']> {
    this.appendCalls += 1
    this.check()
    const [stream, , expected] = args
    if (this.fault === 'conflict') return E.left({ kind: 'version-conflict', stream, expected, actual: 999 })
    const result = await this.inner.append(...args)
    if (E.isLeft(result)) this.conflicts += 1
    return result
  }

  readAll(options?: Parameters<EventStore['readAll']>[0]) {
    return this.inner.readAll(options)
  }

  subscribe(options: Parameters<EventStore['subscribe']>[0]) {
    return this.inner.subscribe(options)
  }

  close() {
    return this.inner.close()
  }
}

export interface AppOptions {
  /** Use a fake clock (starting at START, or the given date). */
  readonly clock?: boolean | Date
  /** Capture logs at this level (default 'info'); they are in `logs`. */
  readonly logLevel?: Level
  /** Share another instance's data folder for the event store (its own dataDir holds read models). */
  readonly eventStoreUrl?: string
  /** Wrap the event store (for fault injection). */
  readonly wrapStore?: (store: EventStore) => EventStore
  readonly config?: Partial<Config>
  /** Drives the expiry reactor's timers (default: real timers). */
  readonly scheduler?: Scheduler
  /** Reuse a data folder (a restart of an earlier instance); default: a fresh one. */
  readonly dataDir?: string
  /** buildApp options besides the logger (console folder, JWKS cooldown). */
  readonly appOptions?: Omit<BuildAppOptions, 'logger'>
}

export interface TestApp {
  readonly app: FastifyInstance
  readonly service: Service
  readonly dataDir: string
  readonly clock: FakeClock | undefined
  /** Every log line the app wrote, raw (JSON text). */
  readonly logLines: string[]
  readonly logs: () => Array<Record<string, unknown>>
  authtoken(email: string, sub?: string): string
  /** `app.inject` with an authtoken for `as` and the stack's `api_key` when given. */
  call(options: CallOptions): Promise<LightMyRequestResponse>
  /** Creates a stack owned by `owner`; returns its api_key. */
  createStack(owner?: string, name?: string): Promise<string>
  share(apiKey: string, by: string, email: string, roles: string[]): Promise<void>
  /** Generates a token; returns its uid and the secret. */
  generate(apiKey: string, as: string, token?: Record<string, unknown>): Promise<{ uid: string; secret: string; body: Record<string, unknown> }>
  /** Types of the events in the stack's stream, in order. */
  eventTypes(apiKey: string): Promise<string[]>
}

export interface CallOptions {
  readonly method: InjectOptions['method']
  readonly url: string
  readonly as?: string
  readonly apiKey?: string
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

export const OWNER = 'owner@example.com'
export const ADMIN = 'admin@example.com'
export const DEVELOPER = 'dev@example.com'
export const CONTENT_MANAGER = 'cm@example.com'
export const STRANGER = 'stranger@example.com'

export const uidOf = (email: string): string => `u-${email.split('@')[0]}`

export const READ_ENTRIES = [{ module: 'entry', acl: { read: true, write: false } }]

/** A fresh temp data folder, removed at teardown (after everything that uses it). */
export const tempDir = (t: Test, prefix = 'mt-test-'): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A service and its app on a fresh data folder, all closed at teardown. */
export const startApp = async (t: Test, options: AppOptions = {}): Promise<TestApp> => {
  const dataDir = options.dataDir ?? tempDir(t)
  const eventStoreUrl = options.eventStoreUrl ?? (onDouble() ? (await storeTarget(t, dataDir)).url : undefined)
  const config = testConfig({ jwtSecret: JWT_SECRET, dataDir, eventStoreUrl, ...options.config })
  const clock = options.clock ? fakeClock(options.clock === true ? START : options.clock) : undefined
  const inner = await openEventStore(config.eventStoreUrl, dataDir)
  const store = options.wrapStore ? options.wrapStore(inner) : inner
  const logLines: string[] = []
  // The service's own logger (its base fields and redaction), writing into `logLines`.
  const logger = serviceLogger(options.logLevel ?? 'info', { write: (line: string) => void logLines.push(line) })
  const { service, app, close } = await openApp(
    config,
    { store, logger, ...(clock ? { clock: clock.now } : {}), ...(options.scheduler ? { scheduler: options.scheduler } : {}) },
    options.appOptions,
  )
  // Teardowns run in reverse order of registration: app and service, then the folder.
  t.teardown(close)
  await app.ready()

  const authtoken = (email: string, sub = uidOf(email)) => mintAuthtoken(JWT_SECRET, { email, sub })
  // inject() without a callback is lazy: the request starts when `.then` is called. Start it now,
  // so that concurrent calls reach the app in the order they were made.
  const call = (o: CallOptions): Promise<LightMyRequestResponse> =>
    app.inject({
      method: o.method,
      url: o.url,
      headers: {
        ...(o.as ? { authtoken: authtoken(o.as) } : {}),
        ...(o.apiKey ? { api_key: o.apiKey } : {}),
        ...o.headers,
      },
      ...(o.body === undefined ? {} : { payload: o.body as InjectOptions['payload'] }),
    }).then((res) => res)
  let names = 0
  const expectOk = (res: LightMyRequestResponse, what: string) => {
    if (res.statusCode >= 300) throw new Error(`${what}: ${res.statusCode} ${res.body}`)
    return res.json() as Record<string, unknown>
  }
  return {
    app,
    service,
    dataDir,
    clock,
    logLines,
    logs: () => logLines.map((l) => JSON.parse(l) as Record<string, unknown>),
    authtoken,
    call,
    async createStack(owner = OWNER, name = 'Stack') {
      const body = expectOk(await call({ method: 'POST', url: '/v3/stacks', as: owner, body: { stack: { name } } }), 'create stack')
      return (body.stack as { api_key: string }).api_key
    },
    async share(apiKey, by, email, roles) {
      expectOk(
        await call({ method: 'POST', url: '/v3/stacks/share', as: by, apiKey, body: { emails: [email], roles: { [email]: roles } } }),
        'share',
      )
    },
    async generate(apiKey, as, token = {}) {
      const body = expectOk(
        await call({
          method: 'POST',
          url: '/v3/stacks/management_tokens',
          as,
          apiKey,
          body: { token: { name: `token-${(names += 1)}`, scope: READ_ENTRIES, ...token } },
        }),
        'generate',
      )
      const tk = body.token as { uid: string; token: string }
      return { uid: tk.uid, secret: tk.token, body }
    },
    async eventTypes(apiKey) {
      return (await service.store.readStream(stackStream(apiKey))).map((e) => e.type)
    },
  }
}
