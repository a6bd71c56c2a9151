import type Database from 'better-sqlite3'

export type Channel = 'mail' | 'webhook'
export type DeliveryStatus = 'pending' | 'sent' | 'dead'

export interface Delivery {
  readonly n: number
  /** Stable delivery id: Message-ID source for mail, the `id` of a webhook. */
  readonly id: string
  readonly channel: Channel
  readonly stack: string
  readonly kind: string
  readonly payload: string
  readonly status: DeliveryStatus
  readonly attempts: number
  readonly created_at: number
  readonly next_attempt_at: number
  readonly deadline: number
  readonly last_error: string | null
  readonly sent_at: number | null
}

/** How long a delivery is retried before it is kept as dead (then `deliveries resend` sends it again). */
export const RETRY_WINDOW_MS = 72 * 3_600_000
const FIRST_RETRY_MS = 1000
const MAX_RETRY_MS = 3_600_000

/** Exponential backoff: 1 s, 2 s, 4 s ... capped at an hour, after the `attempts`-th failure. */
export const backoffMs = (attempts: number): number => Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS)

export const createOutboxTables = (db: Database.Database): void => {
  db.exec(`
    CREATE TABLE IF NOT EXISTS outbox (
      n               INTEGER PRIMARY KEY AUTOINCREMENT,
      id              TEXT NOT NULL UNIQUE,
      channel         TEXT NOT NULL,
      stack           TEXT NOT NULL,
      kind            TEXT NOT NULL,
      payload         TEXT NOT NULL,
      status          TEXT NOT NULL,
      attempts        INTEGER NOT NULL,
      created_at      INTEGER NOT NULL,
      next_attempt_at INTEGER NOT NULL,
      deadline        INTEGER NOT NULL,
      last_error      TEXT,
      sent_at         INTEGER
    );
    CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (status, channel, next_attempt_at);
    CREATE INDEX IF NOT EXISTS outbox_by_stack ON outbox (channel, status, stack, n);`)
}

/**
 * The outbox: rows are written in the same transaction as the reactor's checkpoint (or as the
 * fact that makes them due), so a crash never loses one; a row leaves `pending` only once the
 * mail server or webhook receiver accepted it (`sent`) or its retry window ran out (`dead`).
 */
export class Outbox {
  private readonly stmts

  constructor(db: Database.Database) {
    createOutboxTables(db)
    this.stmts = {
      add: db.prepare(
        `INSERT OR IGNORE INTO outbox (id, channel, stack, kind, payload, status, attempts, created_at, next_attempt_at, deadline)
         VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`,
      ),
      dueMail: db.prepare<[number], Delivery>(
        `SELECT * FROM outbox WHERE status = 'pending' AND channel = 'mail' AND next_attempt_at <= ? ORDER BY n LIMIT 100`,
      ),
      // Per stack, only its oldest pending webhook may go: stream order per stack.
      dueWebhooks: db.prepare<[number], Delivery>(
        `SELECT o.* FROM outbox o
          WHERE o.channel = 'webhook' AND o.status = 'pending' AND o.next_attempt_at <= ?
            AND o.n = (SELECT MIN(p.n) FROM outbox p WHERE p.channel = 'webhook' AND p.status = 'pending' AND p.stack = o.stack)
          ORDER BY o.n LIMIT 100`,
      ),
      sent: db.prepare(`UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL WHERE n = ?`),
      retry: db.prepare(`UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE n = ?`),
      postpone: db.prepare(`UPDATE outbox SET next_attempt_at = ? WHERE n = ?`),
      dead: db.prepare(`UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = ? WHERE n = ?`),
      revive: db.prepare(`UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, deadline = ? WHERE id = ? AND status = 'dead'`),
      nextMail: db.prepare<[], number | null>(`SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND channel = 'mail'`).pluck(),
      // A stack's later webhooks wait for its head, so only heads say when to wake.
      nextWebhook: db.prepare<[], number | null>(
        `SELECT MIN(o.next_attempt_at) FROM outbox o WHERE o.channel = 'webhook' AND o.status = 'pending'
           AND o.n = (SELECT MIN(p.n) FROM outbox p WHERE p.channel = 'webhook' AND p.status = 'pending' AND p.stack = o.stack)`,
      ).pluck(),
      byStatus: db.prepare<[string], Delivery>(`SELECT * FROM outbox WHERE status = ? ORDER BY n`),
      all: db.prepare<[], Delivery>(`SELECT * FROM outbox ORDER BY n`),
      get: db.prepare<[string], Delivery>(`SELECT * FROM outbox WHERE id = ?`),
      depth: db.prepare<[], { channel: Channel; n: number; oldest: number }>(
        `SELECT channel, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status = 'pending' GROUP BY channel`,
      ),
    }
  }

  /** Idempotent: a delivery id already in the outbox (in any state) is not added again. */
  add(d: { id: string; channel: Channel; stack: string; kind: string; payload: string }, now: number): void {
    this.stmts.add.run(d.id, d.channel, d.stack, d.kind, d.payload, now, now, now + RETRY_WINDOW_MS)
  }

  due(channel: Channel, now: number): Delivery[] {
    return channel === 'mail' ? this.stmts.dueMail.all(now) : this.stmts.dueWebhooks.all(now)
  }

  markSent(d: Delivery, now: number): void {
    this.stmts.sent.run(now, d.n)
  }

  /** After a failed attempt: try again later, or dead once the retry window is spent. Returns the outcome. */
  markFailed(d: Delivery, error: string, now: number): 'retry' | 'dead' {
    const next = now + backoffMs(d.attempts + 1)
    if (next > d.deadline) {
      this.stmts.dead.run(error, d.n)
      return 'dead'
    }
    this.stmts.retry.run(next, error, d.n)
    return 'retry'
  }

  /** Look again later without counting an attempt (another instance holds its claim). */
  postpone(d: Delivery, at: number): void {
    this.stmts.postpone.run(at, d.n)
  }

  /** A dead delivery becomes pending again with a fresh retry window; false if the id is not dead. */
  revive(id: string, now: number): boolean {
    return this.stmts.revive.run(now, now + RETRY_WINDOW_MS, id).changes > 0
  }

  get(id: string): Delivery | undefined {
    return this.stmts.get.get(id)
  }

  list(status?: DeliveryStatus): Delivery[] {
    return status ? this.stmts.byStatus.all(status) : this.stmts.all.all()
  }

  /** The earliest moment a delivery of these channels may be attempted. */
  nextAttemptAt(channels: readonly Channel[]): number | undefined {
    const at = channels.map((c) => (c === 'mail' ? this.stmts.nextMail.get() : this.stmts.nextWebhook.get())).filter((m): m is number => typeof m === 'number')
    return at.length === 0 ? undefined : Math.min(...at)
  }

  /** Pending deliveries per channel, and the creation time of the oldest. */
  depth(): Map<Channel, { count: number; oldest: number }> {
    return new Map(this.stmts.depth.all().map((r) => [r.channel, { count: r.n, oldest: r.oldest }]))
  }
}
