import { randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import * as E from 'fp-ts/lib/Either.js'
import type { Logger } from 'pino'
import { renderNotice, type NoticeMail } from '../../reactors/expiry-mail.js'
import { renderLeakNotice } from '../../reactors/leak-mail.js'
import { dueWork, evolveSchedule, type ScheduledToken } from '../../reactors/expiry-schedule.js'
import { expiredWebhook, webhookOf } from '../../reactors/lifecycle-webhooks.js'
import { SYSTEM_ACTOR } from '../domain/expiry-notice.js'
import type { Recorded } from '../domain/events.js'
import type { EventStore, StoredEvent, Subscription } from '../eventstore/port.js'
import { decodeOrThrow } from '../domain/decode.js'
import type { CommandHandler } from '../write/handle-command.js'
import type { Dispatcher } from './dispatch.js'
import { enqueueMail, type MailKind } from './notice-mail.js'
import type { ReactorMetrics } from './metrics.js'
import type { Outbox } from './outbox.js'
import type { InactivityWatch } from './inactivity.js'
import { createReactorTables } from './reactor-tables.js'
import type { Scheduler } from './scheduler.js'

export interface ReactorDeps {
  readonly db: Database.Database
  readonly store: EventStore
  readonly handle: CommandHandler
  readonly outbox: Outbox
  readonly dispatcher: Dispatcher
  readonly clock: () => Date
  readonly scheduler: Scheduler
  readonly logger: Logger
  readonly metrics: ReactorMetrics
  readonly notifyBeforeMs: number
  /** With WEBHOOK_URL: every lifecycle fact goes to the webhook outbox. */
  readonly webhooks: boolean
  /** Retiring unused tokens: fed every event in the same transaction, swept on every tick. */
  readonly inactivity?: InactivityWatch
}

const NAME = 'expiry-reactor'

/** Row shape in SQLite: booleans as integers. */
interface Row extends Omit<ScheduledToken, 'notify' | 'revoked'> {
  readonly notify: number
  readonly revoked: number
}
const fromRow = (r: Row): ScheduledToken => ({ ...r, notify: r.notify === 1, revoked: r.revoked === 1 })

/**
 * The process manager beside the projections: it follows the event stream from its own checkpoint
 * and keeps a schedule (which token is due when) in its own tables, with the checkpoint in the
 * same transaction; `dueWork` (pure) decides, and a notice is recorded through the ordinary
 * command path (RecordExpiryNotice), so it is an event in the stack's stream and the domain
 * refuses a second one for the same expiry. Only the instance whose append recorded a notice
 * mails it (it wrote an intent under the event id first); every instance with WEBHOOK_URL
 * queues the lifecycle facts it follows (with REDIS_URL, shared claims pick one sender each).
 */
export class ExpiryReactor {
  private readonly stmts
  private subscription: Subscription | undefined
  private position: number
  private caughtUp = false
  private stopped = false
  private running: Promise<void> | undefined
  private again = false
  private cancelTimer: (() => void) | undefined
  /** Intents left by an earlier run: dropped at catch-up unless their event showed up. */
  private readonly leftover: Set<string>
  /** Notices this run is recording now, so that a tick does not start the same one twice. */
  private readonly inFlight = new Set<string>()
  /** When to try again after a notice could not be recorded (the store was unreachable). */
  private retryAt: number | undefined
  /** When the inactivity sweep asked to run again. */
  private inactivityAt: number | undefined

  constructor(private readonly deps: ReactorDeps) {
    const db = deps.db
    createReactorTables(db)
    this.stmts = {
      checkpoint: db.prepare<[string], number>(`SELECT position FROM reactor_checkpoints WHERE name = ?`).pluck(),
      saveCheckpoint: db.prepare(`INSERT OR REPLACE INTO reactor_checkpoints VALUES (?, ?)`),
      stackName: db.prepare<[string], string>(`SELECT name FROM reactor_stacks WHERE api_key = ?`).pluck(),
      setStack: db.prepare(`INSERT OR REPLACE INTO reactor_stacks VALUES (?, ?)`),
      token: db.prepare<[string], Row>(`SELECT * FROM reactor_schedule WHERE token_uid = ?`),
      setToken: db.prepare(
        `INSERT OR REPLACE INTO reactor_schedule (token_uid, api_key, name, expires_on, expires_ms, notify, revoked, notified_for, expired_for)
         VALUES (@token_uid, @api_key, @name, @expires_on, @expires_ms, @notify, @revoked, @notified_for, @expired_for)`,
      ),
      // Candidates: live tokens whose notice moment or expiry has come; dueWork decides.
      candidates: db.prepare<[number], Row>(
        `SELECT * FROM reactor_schedule WHERE revoked = 0 AND expires_ms IS NOT NULL AND expires_ms <= ?
           AND ((notify = 1 AND notified_for IS NOT expires_on) OR expired_for IS NOT expires_on)`,
      ),
      nextNotice: db.prepare<[number], number | null>(
        `SELECT MIN(expires_ms) FROM reactor_schedule WHERE revoked = 0 AND expires_ms > ? AND notify = 1 AND notified_for IS NOT expires_on`,
      ).pluck(),
      nextExpiry: db.prepare<[number], number | null>(
        `SELECT MIN(expires_ms) FROM reactor_schedule WHERE revoked = 0 AND expires_ms > ? AND expired_for IS NOT expires_on`,
      ).pluck(),
      markExpired: db.prepare(`UPDATE reactor_schedule SET expired_for = ? WHERE token_uid = ?`),
      intent: db.prepare<[string], { event_id: string }>(`SELECT event_id FROM notice_intents WHERE event_id = ?`),
      addIntent: db.prepare(`INSERT INTO notice_intents VALUES (?, ?, ?, ?, ?)`),
      dropIntent: db.prepare(`DELETE FROM notice_intents WHERE event_id = ?`),
      intents: db.prepare<[], string>(`SELECT event_id FROM notice_intents`).pluck(),
    }
    this.position = this.stmts.checkpoint.get(NAME) ?? 0
    this.leftover = new Set(this.stmts.intents.all())
  }

  start(): void {
    if (this.subscription || this.stopped) return
    this.subscription = this.deps.store.subscribe({
      after: Math.min(this.position, this.deps.inactivity?.position ?? this.position),
      onEvents: (events) => this.apply(events),
      onCaughtUp: () => this.onCaughtUp(),
      onError: (e) => this.deps.logger.error({ err: e }, 'expiry reactor: the subscription failed'),
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.cancelTimer?.()
    const s = this.subscription
    this.subscription = undefined
    await s?.close()
    await this.running
  }

  /** Resolves once the reactor has nothing left to do right now (tests await it after moving the clock). */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  /** Run now (after a timer, a batch, or from a test). */
  wake(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.loop().finally(() => {
      this.running = undefined
    })
  }

  get checkpoint(): number {
    return this.position
  }

  private async loop(): Promise<void> {
    do {
      this.again = false
      try {
        await this.tick()
      } catch (e) {
        this.deps.logger.error({ err: e }, 'expiry reactor: a run failed; trying again later')
        this.schedule(this.deps.clock().getTime() + 30_000)
      }
    } while (this.again && !this.stopped)
  }

  private onCaughtUp(): void {
    if (!this.caughtUp) {
      this.caughtUp = true
      // Everything the store held is applied: an earlier run's intent whose event never came was
      // never appended (that run died before or during the append); its notice is still due.
      for (const id of this.leftover) this.stmts.dropIntent.run(id)
      this.leftover.clear()
      this.deps.inactivity?.rows.caughtUp()
    }
    this.wake()
  }

  /** One batch: schedule rows, outbox rows and the checkpoint in one transaction. */
  apply(events: readonly StoredEvent[]): void {
    const part = this.deps.inactivity
    const all = events.map(decodeOrThrow).filter((r) => r.position > Math.min(this.position, part?.position ?? this.position))
    const decoded = all.filter((r) => r.position > this.position)
    if (all.length === 0) return
    const now = this.deps.clock().getTime()
    const last = decoded[decoded.length - 1] as Recorded
    const end = (all[all.length - 1] as Recorded).position
    this.deps.db.transaction(() => {
      for (const r of decoded) this.applyOne(r, now)
      // The inactivity part keeps its own checkpoint: it may start behind (it came later).
      if (part) for (const r of all) if (r.position > part.position) part.apply(r, now)
      part?.rows.saveCheckpoint(end)
      if (decoded.length > 0) this.stmts.saveCheckpoint.run(NAME, last.position)
    })()
    if (decoded.length > 0) this.position = last.position
    if (part) part.rows.position = end
    if (this.caughtUp) this.wake()
  }

  private applyOne(r: Recorded, now: number): void {
    const { event } = r
    if (event.type === 'StackCreated') this.stmts.setStack.run(event.data.api_key, event.data.name)
    if ('token_uid' in event.data) {
      const before = this.stmts.token.get(event.data.token_uid)
      const after = evolveSchedule(before ? fromRow(before) : undefined, event)
      if (after) this.stmts.setToken.run({ ...after, expires_ms: after.expires_on === null ? null : Date.parse(after.expires_on), notify: after.notify ? 1 : 0, revoked: after.revoked ? 1 : 0 })
    }
    if (event.type === 'TokenExpiryNotified' && this.stmts.intent.get(r.id)) {
      // Ours: the append that recorded it used the id of our intent. Mail it.
      const token = this.stmts.token.get(event.data.token_uid)
      const mail = renderNotice({
        eventId: r.id,
        occurredAt: r.metadata.occurred_at,
        apiKey: event.data.api_key,
        stackName: this.stmts.stackName.get(event.data.api_key) ?? event.data.api_key,
        tokenUid: event.data.token_uid,
        tokenName: token?.name ?? event.data.token_uid,
        expiresOn: event.data.expires_on,
        recipients: event.data.recipients,
      })
      this.mailOurs(r.id, 'expiry_notice', event.data.api_key, mail, now)
    }
    if (event.type === 'TokenRevoked' && event.data.report && this.stmts.intent.get(r.id)) {
      const token = this.stmts.token.get(event.data.token_uid)
      const mail = renderLeakNotice({
        eventId: r.id,
        occurredAt: r.metadata.occurred_at,
        apiKey: event.data.api_key,
        stackName: this.stmts.stackName.get(event.data.api_key) ?? event.data.api_key,
        tokenUid: event.data.token_uid,
        tokenName: token?.name ?? event.data.token_uid,
        report: event.data.report,
        recipients: event.data.recipients ?? [],
      })
      this.mailOurs(r.id, 'token_leaked', event.data.api_key, mail, now)
    }
    if (this.deps.webhooks) {
      const body = webhookOf(r)
      this.deps.outbox.add({ id: body.id, channel: 'webhook', stack: body.stack, kind: body.type, payload: JSON.stringify(body) }, now)
    }
  }

  /** Our intent's event came back: its mail is queued and the intent has served. */
  private mailOurs(eventId: string, kind: MailKind, stack: string, mail: NoticeMail, now: number): void {
    enqueueMail(this.deps.outbox, kind, eventId, stack, mail, now)
    this.stmts.dropIntent.run(eventId)
    this.leftover.delete(eventId)
  }

  /**
   * Before appending a leaked token's revocation under `eventId`: the mail to its owner and admins
   * is this instance's to send once the event comes back through the stream (as a notice's is).
   */
  intendLeakNotice(eventId: string, apiKey: string, tokenUid: string): void {
    this.stmts.addIntent.run(eventId, apiKey, tokenUid, '', this.deps.clock().getTime())
  }

  /** The append under `eventId` was refused: nothing to mail. */
  dropLeakNotice(eventId: string): void {
    this.stmts.dropIntent.run(eventId)
  }

  private async tick(): Promise<void> {
    if (!this.caughtUp || this.stopped) return
    const now = this.deps.clock().getTime()
    const rows = this.stmts.candidates.all(now + this.deps.notifyBeforeMs).map(fromRow)
    const work = dueWork(rows, now, this.deps.notifyBeforeMs)
    const expired = work.expirations
    if (expired.length > 0)
      this.deps.db.transaction(() => {
        for (const t of expired) {
          this.stmts.markExpired.run(t.expires_on, t.token_uid)
          if (this.deps.webhooks) {
            const body = expiredWebhook(t as ScheduledToken & { expires_on: string })
            this.deps.outbox.add({ id: body.id, channel: 'webhook', stack: body.stack, kind: body.type, payload: JSON.stringify(body) }, now)
          }
        }
      })()
    await Promise.all(work.notices.map((t) => this.recordNotice(t)))
    this.inactivityAt = await this.deps.inactivity?.sweep()
    await this.deps.dispatcher.deliverDue()
    this.scheduleNext()
  }

  private async recordNotice(t: ScheduledToken): Promise<void> {
    const key = `${t.token_uid}:${t.expires_on}`
    if (this.inFlight.has(key) || t.expires_on === null) return
    this.inFlight.add(key)
    const id = randomUUID()
    this.stmts.addIntent.run(id, t.api_key, t.token_uid, t.expires_on, this.deps.clock().getTime())
    try {
      const result = await this.deps.handle(
        t.api_key,
        { type: 'RecordExpiryNotice', actor: SYSTEM_ACTOR, token_uid: t.token_uid, expires_on: t.expires_on, notify_before_ms: this.deps.notifyBeforeMs },
        { requestId: `expiry-notice-${id}`, remoteAddr: '', eventIds: [id] },
      )
      if (E.isRight(result)) this.deps.metrics.noticeRecorded()
      else {
        // Another instance recorded it first, or the token changed meanwhile: nothing to mail.
        this.stmts.dropIntent.run(id)
        this.deps.logger.debug({ token_uid: t.token_uid, code: result.left.code }, 'expiry notice not recorded')
      }
    } catch (e) {
      // The store may or may not have the event: keep the intent; the stream will tell.
      this.deps.logger.warn({ err: e, token_uid: t.token_uid }, 'recording an expiry notice failed; will retry')
      this.retryAt = this.deps.clock().getTime() + 30_000
    } finally {
      this.inFlight.delete(key)
    }
  }

  private scheduleNext(): void {
    const now = this.deps.clock().getTime()
    const before = this.deps.notifyBeforeMs
    const notice = this.stmts.nextNotice.get(now + before)
    const moments = [
      notice == null ? undefined : notice - before,
      this.stmts.nextExpiry.get(now),
      this.deps.outbox.nextAttemptAt(this.deps.webhooks ? ['mail', 'webhook'] : ['mail']),
      this.retryAt,
      this.inactivityAt,
    ].filter((m): m is number => typeof m === 'number')
    this.retryAt = undefined
    if (moments.length > 0) this.schedule(Math.min(...moments))
  }

  private schedule(at: number): void {
    if (this.stopped) return
    this.cancelTimer?.()
    this.cancelTimer = this.deps.scheduler.after(Math.max(0, at - this.deps.clock().getTime()), () => {
      this.cancelTimer = undefined
      this.wake()
    })
  }
}
