import type { Logger } from 'pino'
import type { NoticeMail } from '../../reactors/expiry-mail.js'
import { mailFailure, type MailTransport } from './mail-transport.js'
import type { ReactorMetrics } from './metrics.js'
import type { Channel, Delivery, Outbox } from './outbox.js'
import { localClaims, type WebhookClaims } from './webhook-claims.js'
import type { WebhookTransport } from './webhook-transport.js'

export interface DispatchDeps {
  readonly outbox: Outbox
  readonly mail: MailTransport
  readonly webhook: WebhookTransport | undefined
  readonly clock: () => Date
  readonly logger: Logger
  readonly metrics?: ReactorMetrics
  /** Which instance sends each webhook (default: this one). */
  readonly claims?: WebhookClaims
}

/** How soon to look again at a webhook another instance is sending. */
const CLAIM_POLL_MS = 1000

const MAIL_CONCURRENCY = 5

export type AttemptOutcome = 'delivered' | 'failed' | 'dead' | 'elsewhere' | 'waiting'

/**
 * Sends outbox rows: at least once (a crash after the server accepted but before the row is marked
 * sent sends the same message again, with the same Message-ID or delivery id). A failure is logged
 * with its target and status and retried with backoff until the row's retry window is spent.
 */
export class Dispatcher {
  constructor(private readonly deps: DispatchDeps) {}

  /** One attempt at one delivery. */
  async attempt(d: Delivery): Promise<AttemptOutcome> {
    const { outbox, clock, logger } = this.deps
    const claims = this.deps.claims ?? localClaims
    if (d.channel === 'webhook') {
      const claim = await claims.claim(d.id)
      if (claim === 'done') {
        outbox.markSent(d, clock().getTime())
        logger.debug({ delivery: d.id, kind: d.kind }, 'delivered by another instance')
        return 'elsewhere'
      }
      if (claim === 'wait') {
        outbox.postpone(d, clock().getTime() + CLAIM_POLL_MS)
        return 'waiting'
      }
    }
    const outcome = await this.send(d)
    if (d.channel === 'webhook') await (outcome === 'delivered' ? claims.delivered(d.id) : claims.release(d.id))
    return outcome
  }

  private async send(d: Delivery): Promise<AttemptOutcome> {
    const { outbox, clock, logger } = this.deps
    const target = d.channel === 'mail' ? this.deps.mail.target : (this.deps.webhook?.target ?? 'none')
    let failure: { status: string; message: string; location?: string | undefined } | undefined
    try {
      if (d.channel === 'mail') await this.deps.mail.send(JSON.parse(d.payload) as NoticeMail)
      else {
        if (!this.deps.webhook) throw Object.assign(new Error('WEBHOOK_URL is not configured'), { code: 'unconfigured' })
        const { status, location } = await this.deps.webhook.post(d.id, d.payload, clock())
        // A redirect is a failed attempt: following it would re-send the signed body elsewhere.
        if (status >= 300 && status < 400)
          failure = { status: String(status), message: `receiver redirected to ${location ?? 'nowhere'}; redirects are not followed`, location }
        else if (status < 200 || status >= 300) failure = { status: String(status), message: `receiver answered ${status}` }
      }
    } catch (e) {
      failure = mailFailure(e)
    }
    const now = clock().getTime()
    if (!failure) {
      outbox.markSent(d, now)
      this.deps.metrics?.delivery(d.channel, 'delivered')
      logger.info({ delivery: d.id, channel: d.channel, kind: d.kind, target }, 'delivered')
      return 'delivered'
    }
    const outcome = outbox.markFailed(d, `${failure.status}: ${failure.message}`, now)
    const result = outcome === 'dead' ? 'dead' : 'failed'
    this.deps.metrics?.delivery(d.channel, result)
    logger.warn(
      {
        delivery: d.id,
        channel: d.channel,
        kind: d.kind,
        target,
        status: failure.status,
        error: failure.message,
        location: failure.location,
        attempts: d.attempts + 1,
        outcome,
      },
      outcome === 'dead' ? 'delivery failed; retry window spent, kept as dead' : 'delivery failed; will retry',
    )
    return result
  }

  /** Sends everything due now; webhooks one at a time per stack, in order, stopping a stack at its first failure. */
  async deliverDue(): Promise<void> {
    const mailRows = this.deps.outbox.due('mail', this.deps.clock().getTime())
    // A few connections at a time: a mail server may refuse a burst from one client.
    for (let i = 0; i < mailRows.length; i += MAIL_CONCURRENCY) await Promise.all(mailRows.slice(i, i + MAIL_CONCURRENCY).map((d) => this.attempt(d)))
    if (this.deps.webhook) await this.deliverWebhooks()
  }

  private async deliverWebhooks(): Promise<void> {
    for (;;) {
      const heads = this.deps.outbox.due('webhook' satisfies Channel, this.deps.clock().getTime())
      if (heads.length === 0) return
      const outcomes = await Promise.all(heads.map((d) => this.attempt(d)))
      // Each delivered (or dead) head lets its stack's next row go; a failed one waits for its retry.
      if (!outcomes.some((o) => o === 'delivered' || o === 'dead' || o === 'elsewhere')) return
    }
  }
}
