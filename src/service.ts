import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import type Database from 'better-sqlite3'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { PROJECTIONS, projectionsFor } from '../projections/index.js'
import { createAuthorizer } from './authorizer/decide.js'
import type { Config } from './config.js'
import { openEventStore } from './eventstore/open.js'
import type { EventStore } from './eventstore/port.js'
import { type AppOptions, buildApp } from './http/app.js'
import type { AppDeps } from './http/deps.js'
import { serviceLogger } from './logger.js'
import { openNotifications, type Notifications } from './react/index.js'
import type { Scheduler } from './react/scheduler.js'
import { openReadModels as openFiles } from './read/files.js'
import { alone, type Propagation, type RunningPropagation, startPropagation } from './propagation/propagation.js'
import type { InstanceRegistry } from './propagation/registry.js'
import { redisRegistry } from './propagation/redis-registry.js'
import { sqliteRegistry } from './propagation/sqlite-registry.js'
import { auditSourceFor } from '../projections/audit-log/events-audit.js'
import { Projector } from './read/projector.js'
import { createQueries, type AuditSource } from '../projections/queries.js'
import type { Projection } from './read/projection.js'
import { createCommandHandler } from './write/handle-command.js'
import { policyOf } from './write/policy.js'
import { openUsage, type Usage } from './usage/usage.js'
import type { UsageStore } from './usage/port.js'
import { redisUsageStore } from './usage/redis-store.js'
import { sqliteUsageStore } from './usage/sqlite-store.js'

// The composition root: it picks the adapters and builds, once per instance, what the layers
// below take as arguments. Only the CLI and the package entry point import it.

/** What an instance opens (store, read models, projector) and reads time, randomness and metrics from. */
export interface ServiceDeps {
  readonly config: Config
  readonly store: EventStore
  readonly readDb: Database.Database
  readonly projector: Projector
  readonly clock: () => Date
  readonly randomBytes: (n: number) => Buffer
  readonly metrics: Registry
  /** Where the audit log is read (auditSourceFor); without one, the audit-log projection's table. */
  readonly audit?: AuditSource
  /** How changes that withdraw access are confirmed by the other instances; without it, by this instance alone. */
  readonly peers?: Propagation
  /** Where usage counts and last uses are kept; default: usageStoreFor(config, store, clock). */
  readonly usageStore?: UsageStore
}

/** What the instance's surfaces share, built once over its adapters; `close` closes the authorizer. */
export interface Shared extends AppDeps {
  /** Usage recording: `flush()` writes this instance's counts now. */
  readonly usage: Usage
  close(): Promise<void>
}

export interface Service extends ServiceDeps, Shared {
  /** The expiry reactor and the outbox of mails and webhooks. */
  readonly notifications: Notifications
}

/**
 * read-models.db, with audit.db attached when `projections` hold the audit log (see
 * src/read/files.ts): what queries and the projector use.
 */
export const openReadModels = (dataDir: string, projections: readonly Projection[] = PROJECTIONS): Database.Database => openFiles(dataDir, projections)

/**
 * The one command handler (one queue per stack, one cache of folded stacks), shared by the API and
 * the expiry reactor, and the one authorizer, whose failed-authentication limiter every surface
 * shares: built here so that nothing below can build a second.
 */
export const buildShared = (deps: ServiceDeps, logger: Logger, scheduler?: Scheduler): Shared => {
  const { config, store, readDb, projector, clock, metrics } = deps
  const queries = createQueries(readDb, deps.audit, clock)
  const handle = createCommandHandler({
    store,
    clock,
    policy: policyOf(config),
    waitForProjection: (p) => projector.waitFor(p),
    stacksCreatedBy: (uid) => queries.stacksCreatedBy(uid),
  })
  let flushFailing = false
  const usage = openUsage({
    store: deps.usageStore ?? usageStoreFor(config, store, clock),
    // The system clock is read by the recorder itself, once a minute; a clock handed in (tests) per decision.
    now: clock === systemClock ? undefined : () => clock().getTime(),
    flushMs: config.usageFlushMs,
    recording: config.usageRecording,
    // At warn once per outage, then at debug (an unreachable Redis would otherwise log every flush).
    onError: (err, dropped) => {
      if (flushFailing) return logger.debug({ err, dropped }, 'usage counts could not be written')
      flushFailing = true
      logger.warn({ err, dropped }, 'usage counts could not be written; kept for the next flush as far as the bound allows')
    },
    onFlushed: () => {
      if (flushFailing) logger.info('usage counts are written again')
      flushFailing = false
    },
  })
  const authorizer = createAuthorizer(
    { config, readDb, clock, metrics, projector, store, usage: usage.recorder },
    {
      ...(scheduler ? { scheduler } : {}),
      // One line when the circuit opens and one when it closes, not one per request.
      onLimitsChange: (mode, err) =>
        mode === 'local'
          ? logger.warn({ err }, 'rate-limit counters in Redis unreachable; counting in this instance\'s memory until Redis answers again')
          : logger.info('Redis answers again; rate limits are counted in Redis, shared by every instance'),
    },
  )
  const propagation = deps.peers ?? alone
  return {
    config,
    clock,
    randomBytes: deps.randomBytes,
    metrics,
    store,
    queries,
    handle,
    authorizer,
    readiness: projector,
    propagation,
    usage,
    async close() {
      await authorizer.close()
      await usage.close()
    },
  }
}

export interface ServiceOverrides {
  readonly store?: EventStore
  readonly clock?: () => Date
  readonly randomBytes?: (n: number) => Buffer
  readonly onProjectionFailure?: (e: unknown) => void
  /** When the expiry reactor runs again and when Redis is probed while unreachable; tests drive it by hand. */
  readonly scheduler?: Scheduler
  /** For what runs outside requests (the reactor and its deliveries, the authorizer's limiter). */
  readonly logger?: Logger
}

/** The store's first event's id: the same for every instance on one store, whatever URL reaches it. */
const firstEventId = async (store: EventStore): Promise<string | undefined> => {
  for await (const e of store.readAll({ maxCount: 1 })) return e.id
  return undefined
}

/**
 * Where instances find each other, in what they already share: Redis when it is set, otherwise a
 * file beside the embedded event store's. EventStoreDB without Redis gives them nothing shared
 * to write to (an event per heartbeat would fill the log), so each confirms alone.
 */
const instanceRegistry = (config: Config, store: EventStore): InstanceRegistry | undefined => {
  if (config.redisUrl) return redisRegistry(config.redisUrl, () => firstEventId(store))
  const file = store.embedded?.file
  return file ? sqliteRegistry(join(dirname(file), 'instances.db')) : undefined
}

/**
 * Where usage is kept, like the instance registry: Redis when set, otherwise `usage.db` beside
 * the embedded event store (or in DATA_DIR beside EventStoreDB: then each instance counts alone).
 */
export const usageStoreFor = (config: Config, store: EventStore, clock: () => Date): UsageStore => {
  if (config.redisUrl) return redisUsageStore(config.redisUrl, config.usageRetentionDays)
  const file = store.embedded?.file
  return sqliteUsageStore(join(file ? dirname(file) : config.dataDir, 'usage.db'), config.usageRetentionDays, () => clock().getTime())
}

const openPropagation = (config: Config, store: EventStore, projector: Projector, logger: Logger): RunningPropagation | undefined => {
  const registry = instanceRegistry(config, store)
  if (!registry) {
    // info, not warn: a single instance on EventStoreDB is a sound deployment, and is told at every start.
    logger.info('EventStoreDB without REDIS_URL: instances cannot see each other, so a revocation is confirmed by this instance only; set REDIS_URL to confirm it on every instance')
    return undefined
  }
  let warned = false
  return startPropagation({
    id: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    registry,
    applied: projector,
    timeoutMs: config.propagationTimeoutMs,
    // Once at warn (a Redis outage would otherwise log every heartbeat), then at debug.
    onError: (err, when) => {
      if (warned) return logger.debug({ err, when }, 'instance registry unavailable')
      warned = true
      logger.warn({ err, when }, 'instance registry unavailable: changes are answered without confirmation from other instances')
    },
  })
}

const systemClock = (): Date => new Date()

/** Opens the event store and read models, starts projecting and the reactors. */
export const openService = async (config: Config, o: ServiceOverrides = {}): Promise<Service> => {
  const logger = o.logger ?? serviceLogger(config.logLevel)
  const store = o.store ?? (await openEventStore(config.eventStoreUrl, config.dataDir))
  // Not awaited: an unreachable store must not hold up start-up (the liveness probe answers, and
  // /readyz says 503 until the read models have caught up, as it does today); it is only told.
  let closed = false
  void store.checkConnection?.().then(
    () => logger.info('the event store answered at start-up'),
    (err: unknown) => {
      if (!closed) logger.warn({ err }, 'the event store is unreachable at start-up; reads and subscriptions keep retrying and /readyz answers 503 until the read models have caught up')
    },
  )
  const projections = projectionsFor(store)
  const readDb = openReadModels(config.dataDir, projections)
  const projector = new Projector(readDb, store, projections, o.onProjectionFailure)
  projector.start()
  const clock = o.clock ?? systemClock
  const metrics = new Registry()
  // Process and Node.js runtime metrics (CPU, memory, event-loop lag, GC, handles) on this instance's registry.
  collectDefaultMetrics({ register: metrics })
  const audit = auditSourceFor(store)
  const propagation = openPropagation(config, store, projector, logger)
  const deps: ServiceDeps = {
    config,
    store,
    readDb,
    projector,
    clock,
    randomBytes: o.randomBytes ?? randomBytes,
    metrics,
    ...(audit ? { audit } : {}),
    ...(propagation ? { peers: propagation } : {}),
  }
  const shared = buildShared(deps, logger, o.scheduler)
  const notifications = openNotifications({
    config,
    store,
    handle: shared.handle,
    clock,
    registry: metrics,
    logger,
    usage: shared.usage,
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
  })
  notifications.reactor.start()
  return {
    ...deps,
    ...shared,
    notifications,
    leakNotices: {
      intend: (eventId, apiKey, tokenUid) => notifications.reactor.intendLeakNotice(eventId, apiKey, tokenUid),
      drop: (eventId) => notifications.reactor.dropLeakNotice(eventId),
    },
    async close() {
      closed = true
      await notifications.close()
      await shared.close()
      await propagation?.close()
      await projector.stop()
      await store.close()
      readDb.close()
    },
  }
}

export interface Running {
  readonly service: Service
  readonly app: FastifyInstance
  /** Closes the app, then the service. */
  close(): Promise<void>
}

/** A service and its HTTP app (one logger for both unless `options.logger` says otherwise). */
export const openApp = async (config: Config, o: ServiceOverrides = {}, options: AppOptions = {}): Promise<Running> => {
  const logger = o.logger ?? serviceLogger(config.logLevel)
  const service = await openService(config, { ...o, logger })
  let app: FastifyInstance
  try {
    app = await buildApp(service, { logger, ...options })
  } catch (e) {
    await service.close()
    throw e
  }
  return {
    service,
    app,
    async close() {
      await app.close()
      await service.close()
    },
  }
}
