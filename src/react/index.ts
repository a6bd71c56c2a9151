import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../config.js'
import type { EventStore } from '../eventstore/port.js'
import type { CommandHandler } from '../write/handle-command.js'
import { Dispatcher } from './dispatch.js'
import type { UsageStore } from '../usage/port.js'
import { ExpiryReactor } from './expiry-reactor.js'
import { InactivityWatch } from './inactivity.js'
import { emlTransport, smtpTransport, type MailTransport } from './mail-transport.js'
import { reactorMetrics, type ReactorMetrics } from './metrics.js'
import { Outbox } from './outbox.js'
import { timerScheduler, type Scheduler } from './scheduler.js'
import { localClaims, redisClaims } from './webhook-claims.js'
import { webhookTransport, type WebhookTransport } from './webhook-transport.js'

/**
 * The reactor's own database: its schedule, checkpoint, intents and the outbox. Not a read model
 * (whether a mail was sent cannot be rebuilt from the log), so it lives apart from read-models.db
 * and its rebuilds.
 */
export const openReactorDb = (dataDir: string): Database.Database => {
  mkdirSync(dataDir, { recursive: true })
  const db = new Database(join(dataDir, 'reactors.db'))
  // The wait before switching to WAL, as for the event store: instances may open the file together.
  db.pragma('busy_timeout = 5000')
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  return db
}

/** Where mail goes: SMTP_URL, or `.eml` files under DATA_DIR/outbox/. */
export const mailTransportFor = (config: Config): MailTransport =>
  config.smtpUrl ? smtpTransport(config.smtpUrl, config.mailFrom) : emlTransport(join(config.dataDir, 'outbox'), config.mailFrom)

export const webhookTransportFor = (config: Config): WebhookTransport | undefined =>
  config.webhookUrl && config.webhookSecret ? webhookTransport(config.webhookUrl, config.webhookSecret) : undefined

export interface Notifications {
  readonly reactor: ExpiryReactor
  readonly outbox: Outbox
  readonly mail: MailTransport
  readonly webhook: WebhookTransport | undefined
  readonly metrics: ReactorMetrics
  /** One line for the start-up message: where notices and webhooks go. */
  readonly summary: string
  close(): Promise<void>
}

export interface NotificationDeps {
  readonly config: Config
  readonly store: EventStore
  readonly handle: CommandHandler
  readonly clock: () => Date
  readonly registry: Registry
  readonly logger: Logger
  readonly scheduler?: Scheduler
  /** Last uses, for retiring unused tokens (stack policy `inactive_days`); without it none is retired. */
  readonly usage?: Pick<UsageStore, 'lastUse'>
}

export const openNotifications = (deps: NotificationDeps): Notifications => {
  const db = openReactorDb(deps.config.dataDir)
  const outbox = new Outbox(db)
  const mail = mailTransportFor(deps.config)
  const webhook = webhookTransportFor(deps.config)
  const logger = deps.logger.child({ component: 'notifications' })
  const metrics = reactorMetrics(deps.registry, outbox, deps.clock)
  // With Redis, instances share webhook claims: each delivery is sent once, a stack's in order.
  const claims = webhook && deps.config.redisUrl ? redisClaims(deps.config.redisUrl, randomUUID(), logger) : localClaims
  const dispatcher = new Dispatcher({ outbox, mail, webhook, clock: deps.clock, logger, metrics, claims })
  const notifyBeforeMs = deps.config.notifyBeforeMs
  const inactivity = deps.usage && new InactivityWatch({ db, handle: deps.handle, outbox, usage: deps.usage, clock: deps.clock, logger, notifyBeforeMs, metrics })
  const reactor = new ExpiryReactor({
    db,
    store: deps.store,
    handle: deps.handle,
    outbox,
    dispatcher,
    clock: deps.clock,
    scheduler: deps.scheduler ?? timerScheduler,
    logger,
    metrics,
    notifyBeforeMs,
    webhooks: webhook !== undefined,
    ...(inactivity ? { inactivity } : {}),
  })
  const summary =
    (deps.config.smtpUrl ? `expiry notices: mailed through ${mail.target}` : `expiry notices: no SMTP_URL, written as .eml files to ${mail.target}`) +
    (webhook ? `; lifecycle webhooks to ${webhook.target}${claims === localClaims ? '' : ' (claims shared through Redis)'}` : '')
  return {
    reactor,
    outbox,
    mail,
    webhook,
    metrics,
    summary,
    async close() {
      await reactor.stop()
      await claims.close()
      mail.close()
      db.close()
    },
  }
}
