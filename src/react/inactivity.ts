import { randomUUID } from 'node:crypto'
import type Database from 'better-sqlite3'
import * as E from 'fp-ts/lib/Either.js'
import type { Logger } from 'pino'
import { dueInactivity, type Due } from '../../reactors/inactivity-schedule.js'
import type { Command } from '../domain/commands.js'
import { SYSTEM_ACTOR } from '../domain/expiry-notice.js'
import type { Recorded } from '../domain/events.js'
import type { UsageStore } from '../usage/port.js'
import type { CommandHandler } from '../write/handle-command.js'
import { InactivityRows } from './inactivity-rows.js'
import type { ReactorMetrics } from './metrics.js'
import type { Outbox } from './outbox.js'

export interface InactivityDeps {
  readonly db: Database.Database
  readonly handle: CommandHandler
  readonly outbox: Outbox
  /** Where last uses are read (every instance's, once flushed). */
  readonly usage: Pick<UsageStore, 'lastUse'>
  readonly clock: () => Date
  readonly logger: Logger
  readonly notifyBeforeMs: number
  readonly metrics?: Pick<ReactorMetrics, 'inactivity'>
}

const RETRY_MS = 60_000
/** Last uses are read this many tokens at a time. */
const BATCH = 500

/**
 * Retires tokens unused for their stack's `inactive_days` (the policy and the notices are events;
 * last uses are not, they are read from the usage store). Driven by the expiry reactor: it feeds
 * every event (in its transaction, with this part's own checkpoint) and calls `sweep` on its
 * ticks. A notice is recorded through the command path under an intent, as an expiry notice is,
 * and mailed by the instance whose append recorded it; the revocation is a command the domain
 * refuses twice. Uses only postpone a token's moments, so each sweep remembers, per token, the
 * earliest moment anything can be due and asks for a wake-up then: no polling per minute.
 */
export class InactivityWatch {
  /** token_uid -> before when nothing can be due for it. Lost on restart: the first sweep reads every candidate again. */
  private readonly quiet = new Map<string, number>()

  readonly rows: InactivityRows

  constructor(private readonly deps: InactivityDeps) {
    this.rows = new InactivityRows(deps.db, deps.outbox, deps.notifyBeforeMs)
  }

  get position(): number {
    return this.rows.position
  }

  /** For events after `position`, in order, inside the expiry reactor's transaction. */
  apply(r: Recorded, now: number): void {
    // An event about a token may change its moments; a policy change, every token's.
    if ('token_uid' in r.event.data) this.quiet.delete(r.event.data.token_uid)
    if (r.event.type === 'StackPolicySet') this.quiet.clear()
    this.rows.apply(r, now)
  }

  /** Records the notices and retirements due now; answers when the next sweep is worth it. */
  async sweep(): Promise<number | undefined> {
    const now = this.deps.clock().getTime()
    const rows = this.rows.candidates(now).filter((t) => (this.quiet.get(t.token_uid) ?? now) <= now)
    try {
      const lastUsed = new Map<string, number | null>()
      for (let i = 0; i < rows.length; i += BATCH) {
        const uses = await this.deps.usage.lastUse(rows.slice(i, i + BATCH).map((t) => t.token_uid))
        for (const [uid, u] of uses) lastUsed.set(uid, u.at)
      }
      const work = dueInactivity(rows, lastUsed, now, this.deps.notifyBeforeMs)
      for (const [uid, at] of work.quietUntil) this.quiet.set(uid, at)
      await Promise.all([...work.notices.map((d) => this.record(d, 'notice')), ...work.retirements.map((d) => this.record(d, 'retire'))])
    } catch (e) {
      this.deps.logger.warn({ err: e }, 'inactivity sweep: last uses could not be read; trying again later')
      return now + RETRY_MS
    }
    const moments = [...this.quiet.values(), this.rows.nextFromEvents(now)].filter((m): m is number => typeof m === 'number' && Number.isFinite(m))
    return moments.length > 0 ? Math.min(...moments) : undefined
  }

  private async record(d: Due, what: 'notice' | 'retire'): Promise<void> {
    const t = d.token
    const last_used_at = d.lastUsed === null ? null : new Date(d.lastUsed).toISOString()
    const id = randomUUID()
    const cmd: Command =
      what === 'notice'
        ? { type: 'RecordInactivityNotice', actor: SYSTEM_ACTOR, token_uid: t.token_uid, last_used_at, notify_before_ms: this.deps.notifyBeforeMs }
        : { type: 'RetireInactiveToken', actor: SYSTEM_ACTOR, token_uid: t.token_uid, last_used_at }
    if (what === 'notice') this.rows.addIntent(id, this.deps.clock().getTime())
    try {
      const result = await this.deps.handle(t.api_key, cmd, { requestId: `inactivity-${what}-${id}`, remoteAddr: '', eventIds: [id] })
      if (E.isRight(result)) {
        this.deps.metrics?.inactivity(what === 'notice' ? 'notice' : 'retired')
        return this.deps.logger.info({ token_uid: t.token_uid, stack: t.api_key }, what === 'notice' ? 'inactivity notice recorded' : 'inactive token revoked')
      }
      // Another instance was first, or the token changed meanwhile: nothing to mail; look again a little later.
      this.rows.dropIntent(id)
      this.quiet.set(t.token_uid, this.deps.clock().getTime() + RETRY_MS)
      this.deps.logger.debug({ token_uid: t.token_uid, code: result.left.code }, `inactivity ${what} not recorded`)
    } catch (e) {
      // The store may or may not have the event: keep the intent; the stream will tell.
      this.quiet.set(t.token_uid, this.deps.clock().getTime() + RETRY_MS)
      this.deps.logger.warn({ err: e, token_uid: t.token_uid }, `recording an inactivity ${what} failed; will retry`)
    }
  }
}
