import type Database from 'better-sqlite3'
import type * as E from 'fp-ts/lib/Either.js'

/**
 * The event-store port. Adapters (embedded SQLite, EventStoreDB) translate vendor behaviour and
 * errors into this vocabulary and pass the shared contract suite in test/support/event-store-contract.ts.
 *
 * Positions are global, strictly increasing numbers (SQLite: row id; EventStoreDB: commit position).
 * Revisions are per stream, starting at 0.
 */

/** An event to append. `data` and `metadata` are JSON-serialisable objects. */
export interface NewEvent {
  readonly id: string
  readonly type: string
  readonly data: unknown
  readonly metadata: unknown
}

/** An event as stored; `data` and `metadata` are parsed JSON, not yet decoded. */
export interface StoredEvent {
  readonly id: string
  readonly stream: string
  readonly revision: number
  readonly position: number
  readonly type: string
  readonly data: unknown
  readonly metadata: unknown
  /** When the store recorded it (ISO-8601). */
  readonly recorded_at: string
}

/** `no_stream`: the stream must not exist; a number: the revision of the stream's last event. */
export type ExpectedRevision = 'no_stream' | 'any' | number

export interface AppendResult {
  /** Revision of the last appended event. */
  readonly revision: number
  /** Global position of the last appended event. */
  readonly position: number
}

export interface VersionConflict {
  readonly kind: 'version-conflict'
  readonly stream: string
  readonly expected: ExpectedRevision
  readonly actual: number | 'no_stream'
}

/** Thrown (never returned) when the store cannot be reached; the HTTP layer answers 503. */
export class EventStoreUnavailable extends Error {
  readonly kind = 'unavailable'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'EventStoreUnavailable'
  }
}

export interface ReadAllOptions {
  /** Only events with a position strictly greater than this (default: from the start). */
  readonly after?: number
  /** Stop after this many events. */
  readonly maxCount?: number
}

export interface ReadStreamOptions {
  /** The first revision to read (default 0): a reader that folded up to r reads from r + 1. */
  readonly fromRevision?: number
  /** Stop after this many events: a long stream is read a page at a time. */
  readonly maxCount?: number
}

export interface SubscribeOptions extends ReadAllOptions {
  /** Called with each batch of events, in order; the next batch waits for the returned promise. */
  readonly onEvents: (events: readonly StoredEvent[]) => void | Promise<void>
  /** Called each time the subscription has delivered everything the store held (catch-up done). */
  readonly onCaughtUp?: () => void
  /** Called when the subscription fails for good (not for transient outages the adapter retries). */
  readonly onError?: (error: unknown) => void
}

export interface Subscription {
  close(): Promise<void>
}

export interface EventStore {
  /** Events of one stream in revision order; an unknown stream is empty. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<readonly StoredEvent[]>
  /** Atomic: all events or none, only if the stream is at `expected`. */
  append(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<E.Either<VersionConflict, AppendResult>>
  /** Every event of the store in position order. */
  readAll(options?: ReadAllOptions): AsyncIterable<StoredEvent>
  /** Catch-up then live: delivers every event after `options.after`, and new ones as they come. */
  subscribe(options: SubscribeOptions): Subscription
  /**
   * For a store behind a network: one round trip, throwing EventStoreUnavailable when it cannot
   * be reached (start-up reports it). An embedded store, always reachable, has none.
   */
  checkConnection?(): Promise<void>
  /**
   * What only a store in a local SQLite file can do, for the callers that can use it (rebuilds,
   * the audit log, bulk loads); absent on a store behind a network, where they take the port's way.
   */
  readonly embedded?: EmbeddedLog
  close(): Promise<void>
}

/** A stored row before JSON parsing: replays and rebuilds read these to report bad JSON precisely. */
export interface RawEventRow {
  position: number
  id: string
  stream: string
  revision: number
  type: string
  data: string
  metadata: string
  recorded_at: string
}

/**
 * A row of a share (readRawShare) as an array, in this column order: no object per row, and no
 * recorded_at, which no projection reads.
 */
export type RawShareRow = [position: number, id: string, stream: string, revision: number, type: string, data: string, metadata: string]

/** Buckets of streams that readRawShare splits the log by (a stream's bucket comes from its name). */
export const STREAM_BUCKETS = 64

/** One append of a bulk load (EmbeddedLog.appendBatchSync). */
export interface BatchAppend {
  readonly stream: string
  readonly events: readonly NewEvent[]
  readonly expected: ExpectedRevision
}

/** The embedded store's own capabilities: its rows, read synchronously, and its file. */
export interface EmbeddedLog {
  /** The store's file, for another thread to open; undefined for an in-memory store. */
  readonly file: string | undefined
  /** Its SQLite connection, for queries that only read its rows (the audit log). */
  readonly connection: Database.Database
  /** The position of the last event (0 when empty). */
  headPosition(): number
  /** Up to `limit` rows after `after`, unparsed and synchronously: a catch-up inside a transaction. */
  readRawPage(after: number, limit: number): RawEventRow[]
  /**
   * The rows in (after, upTo] of the streams whose bucket (0 to STREAM_BUCKETS - 1) is in
   * [from, to]: a share of the log that two threads can rebuild apart, since every read-model row
   * depends on the events of its own stream only.
   */
  readRawShare(after: number, upTo: number, from: number, to: number): RawShareRow[]
  /** Many appends (to any streams) in one transaction, all or none: bulk loads such as `seed`. */
  appendBatchSync(appends: readonly BatchAppend[]): E.Either<VersionConflict, AppendResult>
}
