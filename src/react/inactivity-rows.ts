import type Database from 'better-sqlite3'
import { renderInactivityNotice } from '../../reactors/inactivity-mail.js'
import type { WatchedToken } from '../../reactors/inactivity-schedule.js'
import type { Recorded } from '../domain/events.js'
import { enqueueMail } from './notice-mail.js'
import type { Outbox } from './outbox.js'
import { createInactivityTables } from './reactor-tables.js'

const NAME = 'inactivity'
/**
 * The tokens of stacks with the rule, read from those stacks (a partial index lists them) through
 * the tokens' index by stack: a sweep costs what the ruled stacks hold, not every token known
 * (CROSS JOIN keeps SQLite from starting at the tokens).
 */
export const RULED = `inactivity_stacks s INDEXED BY inactivity_stacks_with_rule CROSS JOIN inactivity_tokens t ON t.api_key = s.api_key`

/**
 * What the inactivity sweep knows from the events, in the reactor database: each stack's rule,
 * each live token's creation or last rotation, expiry and running notice, and the intents of the
 * notices this instance is recording. `apply` runs inside the expiry reactor's transaction.
 */
export class InactivityRows {
  private readonly stmts
  position: number
  private readonly leftover: Set<string>

  constructor(
    db: Database.Database,
    private readonly outbox: Outbox,
    notifyBeforeMs: number,
  ) {
    createInactivityTables(db)
    const nb = notifyBeforeMs
    // The earliest notice moment from what the events say (no use known): activity >= active_since.
    const noticeAt = `t.active_since + s.inactive_days * 86400000 - ${Number(nb)}`
    this.stmts = {
      checkpoint: db.prepare<[string], number>(`SELECT position FROM reactor_checkpoints WHERE name = ?`).pluck(),
      saveCheckpoint: db.prepare(`INSERT OR REPLACE INTO reactor_checkpoints VALUES (?, ?)`),
      setStack: db.prepare(`INSERT OR REPLACE INTO inactivity_stacks VALUES (?, ?, NULL)`),
      stack: db.prepare<[string], { name: string; inactive_days: number | null }>(`SELECT name, inactive_days FROM inactivity_stacks WHERE api_key = ?`),
      setRule: db.prepare(`UPDATE inactivity_stacks SET inactive_days = ? WHERE api_key = ?`),
      cancelStack: db.prepare(`UPDATE inactivity_tokens SET notice_activity = NULL, notice_retire = NULL WHERE api_key = ?`),
      setToken: db.prepare(`INSERT OR REPLACE INTO inactivity_tokens VALUES (?, ?, ?, ?, ?, NULL, NULL)`),
      tokenName: db.prepare<[string], string>(`SELECT name FROM inactivity_tokens WHERE token_uid = ?`).pluck(),
      rename: db.prepare(`UPDATE inactivity_tokens SET name = ? WHERE token_uid = ?`),
      expiry: db.prepare(`UPDATE inactivity_tokens SET expires_ms = ? WHERE token_uid = ?`),
      rotated: db.prepare(`UPDATE inactivity_tokens SET active_since = ?, notice_activity = NULL, notice_retire = NULL WHERE token_uid = ?`),
      notice: db.prepare(`UPDATE inactivity_tokens SET notice_activity = ?, notice_retire = ? WHERE token_uid = ?`),
      drop: db.prepare(`DELETE FROM inactivity_tokens WHERE token_uid = ?`),
      candidates: db.prepare<[number], WatchedToken>(
        `SELECT t.api_key, t.token_uid, s.inactive_days, t.active_since, t.expires_ms, t.notice_activity, t.notice_retire
           FROM ${RULED} WHERE s.inactive_days IS NOT NULL AND (t.active_since IS NULL OR ${noticeAt} <= ?)`,
      ),
      next: db.prepare<[number], number | null>(
        `SELECT MIN(${noticeAt}) FROM ${RULED} WHERE s.inactive_days IS NOT NULL AND ${noticeAt} > ?`,
      ).pluck(),
      intent: db.prepare<[string], string>(`SELECT event_id FROM inactivity_intents WHERE event_id = ?`).pluck(),
      addIntent: db.prepare(`INSERT INTO inactivity_intents VALUES (?, ?)`),
      dropIntent: db.prepare(`DELETE FROM inactivity_intents WHERE event_id = ?`),
      intents: db.prepare<[], string>(`SELECT event_id FROM inactivity_intents`).pluck(),
    }
    this.position = this.stmts.checkpoint.get(NAME) ?? 0
    this.leftover = new Set(this.stmts.intents.all())
  }

  /** For events after `position`, in order, inside the expiry reactor's transaction. */
  apply(r: Recorded, now: number): void {
    const { event } = r
    const s = this.stmts
    switch (event.type) {
      case 'StackCreated':
        return void s.setStack.run(event.data.api_key, event.data.name)
      case 'StackPolicySet':
        // A lifted or changed rule cancels every announced retirement (the domain's fold does the same).
        if (event.data.policy.inactive_days !== event.data.before.inactive_days) s.cancelStack.run(event.data.api_key)
        return void s.setRule.run(event.data.policy.inactive_days, event.data.api_key)
      case 'TokenGenerated': {
        const d = event.data
        return void s.setToken.run(d.token_uid, d.api_key, d.name, Date.parse(r.metadata.occurred_at), d.expires_on === null ? null : Date.parse(d.expires_on))
      }
      case 'TokenRenamed':
        return void s.rename.run(event.data.name, event.data.token_uid)
      case 'TokenExpiryChanged':
        return void s.expiry.run(event.data.expires_on === null ? null : Date.parse(event.data.expires_on), event.data.token_uid)
      case 'TokenRotated':
        return void s.rotated.run(Date.parse(r.metadata.occurred_at), event.data.token_uid)
      case 'TokenRevoked':
        return void s.drop.run(event.data.token_uid)
      case 'TokenInactivityNotified': {
        const d = event.data
        s.notice.run(Date.parse(d.last_activity_at), Date.parse(d.retire_at), d.token_uid)
        if (!s.intent.get(r.id)) return
        // Ours: the append that recorded it used the id of our intent. Mail it.
        const mail = renderInactivityNotice({
          eventId: r.id,
          occurredAt: r.metadata.occurred_at,
          apiKey: d.api_key,
          stackName: s.stack.get(d.api_key)?.name ?? d.api_key,
          tokenUid: d.token_uid,
          tokenName: s.tokenName.get(d.token_uid) ?? d.token_uid,
          lastActivityAt: d.last_activity_at,
          inactiveDays: d.inactive_days,
          retireAt: d.retire_at,
          recipients: d.recipients,
        })
        enqueueMail(this.outbox, 'inactivity_notice', r.id, d.api_key, mail, now)
        s.dropIntent.run(r.id)
        this.leftover.delete(r.id)
        return
      }
      default:
        return
    }
  }

  /** Inside the transaction; `position` moves once it committed. */
  saveCheckpoint(position: number): void {
    this.stmts.saveCheckpoint.run(NAME, position)
  }

  /** Everything the store held is applied: an earlier run's intent whose event never came was never appended. */
  caughtUp(): void {
    for (const id of this.leftover) this.stmts.dropIntent.run(id)
    this.leftover.clear()
  }

  candidates(now: number): WatchedToken[] {
    return this.stmts.candidates.all(now)
  }

  /** The earliest notice moment after `now` of a token no sweep has looked at: from its creation or rotation. */
  nextFromEvents(now: number): number | undefined {
    return this.stmts.next.get(now) ?? undefined
  }

  addIntent(id: string, now: number): void {
    this.stmts.addIntent.run(id, now)
  }

  dropIntent(id: string): void {
    this.stmts.dropIntent.run(id)
  }
}
