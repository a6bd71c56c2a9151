import type Database from 'better-sqlite3'
import { EventDecodeError } from '../domain/decode.js'
import type { RawShareRow } from '../eventstore/port.js'
import { decodeShareRow } from './log.js'
import { orThrow, type Appliers } from './replay.js'

/**
 * One window of a thread's share of the log, in one transaction of `db`: each event decoded and
 * applied to `a`, rows kept up to `keep` per projection. Both threads of a parallel rebuild run
 * this on their own share (see parallel-rebuild.ts).
 */
export const projectShare = (db: Database.Database, a: Appliers, keep: number): ((rows: readonly RawShareRow[]) => void) =>
  db.transaction((rows: readonly RawShareRow[]) => {
    for (const row of rows) {
      const r = orThrow(decodeShareRow(row))
      const fns = a.byType.get(r.event.type)
      if (fns) for (const f of fns) f(r)
    }
    for (const applier of a.all) if (applier.held() > keep) applier.flush()
  })

/** What a worker sends when it fails: enough to rebuild an EventDecodeError on the other side. */
export interface Failure {
  readonly message: string
  readonly decode?: { position: number; stream: string; type: string; problems: string[] }
}

export const failureOf = (e: unknown): Failure =>
  e instanceof EventDecodeError
    ? { message: e.message, decode: { position: e.position, stream: e.stream, type: e.type, problems: e.problems } }
    : { message: e instanceof Error ? e.message : String(e) }

export const errorOf = (f: Failure): Error =>
  f.decode ? new EventDecodeError(f.decode.position, f.decode.stream, f.decode.type, f.decode.problems) : new Error(f.message)

/**
 * Messages of one kind from a port, in order, as promises; a failure (or the port closing) rejects
 * every wait from then on.
 */
export class Inbox<M extends { kind: string }> {
  private readonly queues = new Map<string, M[]>()
  private readonly waiting = new Map<string, Array<{ resolve: (m: M) => void; reject: (e: unknown) => void }>>()
  private failure: unknown

  put(m: M): void {
    const w = this.waiting.get(m.kind)?.shift()
    if (w) w.resolve(m)
    else this.queues.set(m.kind, [...(this.queues.get(m.kind) ?? []), m])
  }

  fail(e: unknown): void {
    if (this.failure !== undefined) return
    this.failure = e
    for (const ws of this.waiting.values()) for (const w of ws) w.reject(e)
    this.waiting.clear()
  }

  next<K extends M['kind']>(kind: K): Promise<Extract<M, { kind: K }>> {
    const queued = this.queues.get(kind)?.shift()
    if (queued) return Promise.resolve(queued as Extract<M, { kind: K }>)
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.waiting.set(kind, [...(this.waiting.get(kind) ?? []), { resolve: resolve as (m: M) => void, reject }])
    })
  }
}
