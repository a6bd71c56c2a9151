import { setTimeout as sleep } from 'node:timers/promises'
import type Database from 'better-sqlite3'
import type { Recorded } from '../domain/events.js'
import type { EventStore, StoredEvent, Subscription } from '../eventstore/port.js'
import { decodeOrThrow } from '../domain/decode.js'
import { applierOf, type Applier } from './applier.js'
import { inSchema, schemaOf } from './files.js'
import type { Projection } from './projection.js'
import { CHECKPOINTS_TABLE, createTables, dropTables, ensureCheckpointTable, indexTables } from './schema.js'

interface Waiter {
  readonly position: number
  readonly resolve: () => void
  readonly reject: (e: unknown) => void
}

/**
 * Keeps the read models in step with the event store: one subscription from the lowest
 * checkpoint; each batch is applied to every projection that has not seen it yet, in one
 * transaction. Each projection's checkpoint is in the same file as its rows (read-models.db, or
 * audit.db attached as `audit`), and SQLite commits each file atomically, so a crash never leaves
 * rows and checkpoint apart.
 */
export class Projector {
  private readonly checkpoints = new Map<string, number>()
  private readonly appliers: Array<{ p: Projection; applier: Applier; save: Database.Statement }> = []
  private waiters: Waiter[] = []
  private readonly appliedListeners = new Set<() => void>()
  private subscription: Subscription | undefined
  private failure: unknown
  private caughtUp = false
  private lastEventAt = 0
  private applied = 0

  constructor(
    private readonly db: Database.Database,
    private readonly store: EventStore,
    projections: readonly Projection[],
    private readonly onFailure: (e: unknown) => void = () => {},
    /** Pause before trying a batch again when the read models are locked by another connection. */
    private readonly busyRetryMs = 100,
  ) {
    const placed = projections.map((p) => {
      const schema = schemaOf(db, p)
      ensureCheckpointTable(db, schema)
      return { p, table: inSchema(schema), save: db.prepare(`INSERT OR REPLACE INTO ${schema}.${CHECKPOINTS_TABLE} VALUES (?, ?, ?)`), schema }
    })
    db.transaction(() => {
      for (const { p, table, save, schema } of placed) {
        const cp = db.prepare<[string], { version: number; position: number }>(`SELECT version, position FROM ${schema}.${CHECKPOINTS_TABLE} WHERE name = ?`).get(p.name)
        const current = cp !== undefined && cp.version === p.version
        if (!current) {
          // New, or changed: (re)built from position 0. Tables are created only here: a rebuild's
          // swap leaves the live tables with its own index names, which must not be added again.
          if (cp) dropTables(db, p, table)
          createTables(db, p, table)
          indexTables(db, p, table)
        }
        const position = current ? cp.position : 0
        save.run(p.name, p.version, position)
        this.checkpoints.set(p.name, position)
      }
    })()
    for (const { p, table, save } of placed) this.appliers.push({ p, applier: applierOf(db, p, table), save })
  }

  /** Lowest checkpoint: every event at or below it is in every read model. */
  get position(): number {
    let min = Number.POSITIVE_INFINITY
    for (const v of this.checkpoints.values()) min = Math.min(min, v)
    return min === Number.POSITIVE_INFINITY ? 0 : min
  }

  get ready(): boolean {
    return this.caughtUp && this.failure === undefined
  }

  get failed(): unknown {
    return this.failure
  }

  /**
   * Bumped after every committed batch, before its waiters resolve: a cache of read-model rows
   * compares it instead of asking SQLite on every read.
   */
  get generation(): number {
    return this.applied
  }

  /**
   * Called after every committed batch, once `position` and `generation` include it: what this
   * instance tells other instances (src/propagation/) is then already enforced by its authorizer.
   */
  onApplied(listener: () => void): () => void {
    this.appliedListeners.add(listener)
    return () => this.appliedListeners.delete(listener)
  }

  /** When the last event was applied (ms since epoch), for the lag metric. */
  get lastAppliedAt(): number {
    return this.lastEventAt
  }

  start(): void {
    if (this.subscription) return
    this.subscription = this.store.subscribe({
      after: this.position,
      onEvents: (events) => this.applyWhenUnlocked(events),
      onCaughtUp: () => {
        this.caughtUp = true
      },
      onError: (e) => this.fail(e),
    })
  }

  async stop(): Promise<void> {
    const s = this.subscription
    this.subscription = undefined
    await s?.close()
  }

  /** Resolves once every read model includes the event at `position`: a command is answered only then. */
  waitFor(position: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    if (this.position >= position) return Promise.resolve()
    return new Promise((resolve, reject) => this.waiters.push({ position, resolve, reject }))
  }

  /**
   * A rebuild's swap holds the read-model write lock for a while: once SQLite's busy timeout has
   * run out, the batch (rolled back whole) is tried again after a pause instead of stopping the
   * projector; any other error stops it.
   */
  private async applyWhenUnlocked(events: readonly StoredEvent[]): Promise<void> {
    for (;;) {
      try {
        this.apply(events)
        return
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e
        await sleep(this.busyRetryMs)
      }
    }
  }

  /** Apply a batch; public so that rebuilds and tests can drive a projector without a store. */
  apply(events: readonly StoredEvent[]): void {
    if (events.length === 0) return
    const decoded = events.map(decodeOrThrow)
    const last = decoded[decoded.length - 1] as Recorded
    try {
      this.db.transaction(() => {
        for (const { p, applier, save } of this.appliers) {
          const cp = this.checkpoints.get(p.name) ?? 0
          if (cp >= last.position) continue
          for (const r of decoded) if (r.position > cp && p.handles.has(r.event.type)) applier.apply(r)
          applier.flush()
          save.run(p.name, p.version, last.position)
        }
      })()
    } catch (e) {
      for (const { applier } of this.appliers) applier.discard()
      throw e
    }
    for (const { p } of this.appliers) this.checkpoints.set(p.name, Math.max(this.checkpoints.get(p.name) ?? 0, last.position))
    this.lastEventAt = Date.now()
    this.applied += 1
    this.release()
    for (const listener of this.appliedListeners) listener()
  }

  private release(): void {
    const at = this.position
    const due = this.waiters.filter((w) => w.position <= at)
    if (due.length === 0) return
    this.waiters = this.waiters.filter((w) => w.position > at)
    for (const w of due) w.resolve()
  }

  private fail(e: unknown): void {
    this.failure = e
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(e)
    this.onFailure(e)
  }
}
