import { randomBytes } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { PROJECTIONS, projectionsFor } from '../projections/index.js'
import type { Config } from './config.js'
import { openEventStore } from './eventstore/open.js'
import type { EventStore } from './eventstore/port.js'
import { commandHandlerFor } from './http/context.js'
import { serviceLogger } from './logger.js'
import { openNotifications, type Notifications } from './react/index.js'
import type { Scheduler } from './react/scheduler.js'
import { openReadModels as openFiles } from './read/files.js'
import { auditSourceFor } from '../projections/audit-log/events-audit.js'
import { Projector } from './read/projector.js'
import { createQueries, type AuditSource } from '../projections/queries.js'
import type { Projection } from './read/projection.js'
import type { CommandHandler } from './write/handle-command.js'

/** Everything a running instance is made of; passed to buildApp, never held in module state. */
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
  /**
   * The instance's one write path, shared by the API and the expiry reactor: one queue per stack
   * and one cache of folded stacks. Without it, buildApp makes its own.
   */
  readonly handle?: CommandHandler
}

export interface Service extends ServiceDeps {
  /** The expiry reactor and the outbox of mails and webhooks. */
  readonly notifications: Notifications
  close(): Promise<void>
}

/**
 * read-models.db, with audit.db attached when `projections` hold the audit log (see
 * src/read/files.ts): what queries and the projector use.
 */
export const openReadModels = (dataDir: string, projections: readonly Projection[] = PROJECTIONS): Database.Database => openFiles(dataDir, projections)

export interface ServiceOverrides {
  readonly store?: EventStore
  readonly clock?: () => Date
  readonly randomBytes?: (n: number) => Buffer
  readonly onProjectionFailure?: (e: unknown) => void
  /** When the expiry reactor runs again; tests drive it by hand. */
  readonly scheduler?: Scheduler
  /** For what runs outside requests (the reactor and its deliveries). */
  readonly logger?: Logger
}

/** Opens the event store and read models and starts projecting. */
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
  const clock = o.clock ?? (() => new Date())
  const metrics = new Registry()
  // Process and Node.js runtime metrics (CPU, memory, event-loop lag, GC, handles) on this instance's registry.
  collectDefaultMetrics({ register: metrics })
  const audit = auditSourceFor(store)
  const handle = commandHandlerFor({ config, store, clock, projector }, createQueries(readDb))
  const deps = { config, store, readDb, projector, clock, randomBytes: o.randomBytes ?? randomBytes, metrics, handle, ...(audit ? { audit } : {}) }
  const notifications = openNotifications({
    config,
    store,
    handle,
    clock,
    registry: metrics,
    logger,
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
  })
  notifications.reactor.start()
  return {
    ...deps,
    notifications,
    async close() {
      closed = true
      await notifications.close()
      await projector.stop()
      await store.close()
      readDb.close()
    },
  }
}
