import {
  type AllStreamSubscription,
  type AppendExpectedRevision,
  type EventData,
  EventStoreDBClient,
  type JSONType,
  type Position,
  type ReadPosition,
  type RecordedEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
} from '@eventstore/db-client'
import * as E from 'fp-ts/lib/Either.js'
import {
  type AppendResult,
  type EventStore,
  EventStoreUnavailable,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoredEvent,
  type SubscribeOptions,
  type Subscription,
  type VersionConflict,
} from './port.js'
import { apiKeyOfStream, STACK_STREAM_PREFIX } from './streams.js'

export interface EsdbEventStoreOptions {
  /** First pause before resubscribing after a dropped subscription (ms); doubles per failed try. */
  readonly resubscribeInitialDelayMs?: number
  /** Cap of that pause (ms): an outage of any length ends in a resubscription within this delay. */
  readonly resubscribeMaxDelayMs?: number
}

/**
 * The EventStoreDB adapter. Streams map one to one; positions are $all commit positions, which a current
 * server reports on every event (stream reads included) and on each append.
 * Only this service's streams (`stack-...`) are visible through readAll and subscribe, because
 * $all also carries system events and whatever else shares the database.
 */
export class EsdbEventStore implements EventStore {
  private readonly subscriptions = new Set<ResilientSubscription>()
  private readonly retry: RetryDelays

  constructor(
    private readonly client: EventStoreDBClient,
    options: EsdbEventStoreOptions = {},
  ) {
    this.retry = { initialMs: options.resubscribeInitialDelayMs ?? 100, maxMs: options.resubscribeMaxDelayMs ?? 5000 }
  }

  /** `esdb://host:2113?tls=false`, `esdb+discover://...`: no network traffic until the first call. */
  static connect(connectionString: string, options?: EsdbEventStoreOptions): EsdbEventStore {
    return new EsdbEventStore(EventStoreDBClient.connectionString(connectionString), options)
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly StoredEvent[]> {
    const events: StoredEvent[] = []
    const page = {
      ...(options.fromRevision ? { fromRevision: BigInt(options.fromRevision) } : {}),
      ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
    }
    try {
      // Without link resolution every resolved event carries its event.
      for await (const { event } of this.client.readStream(stream, page)) if (event !== undefined) events.push(toStored(event))
    } catch (error) {
      if (error instanceof StreamNotFoundError) return []
      throw toPortError(error)
    }
    return events
  }

  async append(
    stream: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<E.Either<VersionConflict, AppendResult>> {
    try {
      const result = await this.client.appendToStream(stream, events.map(toEventData), {
        expectedRevision: toAppendExpectedRevision(expected),
      })
      // An empty append writes nothing, so the server reports no position.
      const position = result.position === undefined ? 0 : Number(result.position.commit)
      return E.right({ revision: Number(result.nextExpectedRevision), position })
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw toPortError(error)
      const actual = error.actualVersion === 'no_stream' ? 'no_stream' : Number(error.actualVersion)
      return E.left({ kind: 'version-conflict', stream, expected, actual })
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<StoredEvent> {
    const after = options.after ?? 0
    let left = options.maxCount ?? Number.POSITIVE_INFINITY
    if (left <= 0) return
    // No server-side filter for reads in this client version: $all is filtered here, and maxCount
    // counts only the events kept.
    const reading = this.client.readAll({ fromPosition: readPositionAfter(after) })
    try {
      for await (const resolved of reading) {
        const event = ownEventAfter(resolved.event, after)
        if (event === undefined) continue
        yield event
        left -= 1
        if (left === 0) return
      }
    } catch (error) {
      throw toPortError(error)
    } finally {
      // Leaving the loop early destroys the Node stream but not the gRPC call under it.
      await reading.cancel()
    }
  }

  /** One event of $all, whatever its stream: the cheapest call that needs the server. */
  async checkConnection(): Promise<void> {
    try {
      for await (const _ of this.client.readAll({ maxCount: 1 })) void _
    } catch (error) {
      throw toPortError(error)
    }
  }

  subscribe(options: SubscribeOptions): Subscription {
    const subscription = new ResilientSubscription(this.client, options, this.retry)
    this.subscriptions.add(subscription)
    return {
      close: async () => {
        this.subscriptions.delete(subscription)
        await subscription.close()
      },
    }
  }

  async close(): Promise<void> {
    const open = [...this.subscriptions]
    this.subscriptions.clear()
    await Promise.all(open.map((subscription) => subscription.close()))
    await this.client.dispose()
  }
}

interface RetryDelays {
  readonly initialMs: number
  readonly maxMs: number
}

type Dropped = { readonly kind: 'dropped' } | { readonly kind: 'fatal'; readonly error: unknown }

/**
 * A catch-up subscription to $all, filtered server-side to this service's streams, that outlives
 * outages: EventStoreDB ends a subscription when the connection drops, and the client does not
 * resubscribe by itself. So when the server subscription ends for a connection reason this one
 * subscribes again from the last delivered position (exclusive, so no duplicate and no gap), after
 * a pause that doubles per failed try up to a cap. Any other failure, and a handler that throws,
 * ends it for good through `onError`.
 */
class ResilientSubscription {
  private closed = false
  private cursor: number
  private source: AllStreamSubscription | undefined
  private stopPausing!: () => void
  private readonly stopped = new Promise<void>((resolve) => {
    this.stopPausing = resolve
  })
  private readonly done: Promise<void>

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: SubscribeOptions,
    private readonly retry: RetryDelays,
  ) {
    this.cursor = options.after ?? 0
    this.done = this.run()
  }

  async close(): Promise<void> {
    this.closed = true
    this.stopPausing()
    // Destroying the Node stream ends the loop in follow(); its finally cancels the gRPC call.
    this.source?.destroy()
    await this.done
  }

  private async run(): Promise<void> {
    let failures = 0
    while (!this.closed) {
      const outcome = await this.follow(() => {
        failures = 0
      })
      if (this.closed) return
      if (outcome.kind === 'fatal') {
        this.closed = true
        this.options.onError?.(outcome.error)
        return
      }
      failures += 1
      await this.pause(Math.min(this.retry.initialMs * 2 ** (failures - 1), this.retry.maxMs))
    }
  }

  /** Follows one server subscription until it ends, and says why it ended. */
  private async follow(onConfirmed: () => void): Promise<Dropped> {
    const source = this.client.subscribeToAll({
      fromPosition: readPositionAfter(this.cursor),
      filter: streamNameFilter({ prefixes: [STACK_STREAM_PREFIX] }),
    })
    this.source = source
    // The server says "caught up" right after the last catch-up event, which may still wait in the
    // stream's buffer: onCaughtUp comes once the handler is done with everything taken up to there.
    let taken = 0
    let handling = false
    let caughtUpAt: number | undefined
    const reportCaughtUp = () => {
      if (caughtUpAt === undefined || taken < caughtUpAt || handling) return
      caughtUpAt = undefined
      this.options.onCaughtUp?.()
    }
    source.once('confirmation', onConfirmed)
    source.on('caughtUp', () => {
      caughtUpAt = taken + source.readableLength
      reportCaughtUp()
    })
    let outcome: Dropped = { kind: 'dropped' }
    try {
      for await (const resolved of source) {
        taken += 1
        const event = ownEventAfter(resolved.event, this.cursor)
        if (event !== undefined) {
          handling = true
          try {
            await this.options.onEvents([event])
          } catch (error) {
            outcome = { kind: 'fatal', error }
            break
          }
          handling = false
          this.cursor = event.position
        }
        reportCaughtUp()
      }
    } catch (error) {
      if (!isConnectionFailure(error)) outcome = { kind: 'fatal', error }
    } finally {
      this.source = undefined
      await source.unsubscribe()
    }
    return outcome
  }

  private async pause(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), this.stopped])
    clearTimeout(timer)
  }
}

const toEventData = (event: NewEvent): EventData => ({
  id: event.id,
  contentType: 'application/json',
  type: event.type,
  // The port promises JSON-serialisable values; the client serialises them with JSON.stringify.
  data: event.data as JSONType,
  metadata: event.metadata as JSONType,
})

const toAppendExpectedRevision = (expected: ExpectedRevision): AppendExpectedRevision =>
  typeof expected === 'number' ? BigInt(expected) : expected

/** Reads from a position include it, subscriptions start after it; callers skip `after` itself. */
const readPositionAfter = (after: number): ReadPosition =>
  after > 0 ? { commit: BigInt(after), prepare: BigInt(after) } : START

/** The event if it belongs to this service and lies after `after`; system events never do. */
const ownEventAfter = (event: RecordedEvent | undefined, after: number): StoredEvent | undefined => {
  if (event === undefined || event.type.startsWith('$') || apiKeyOfStream(event.streamId) === undefined) return undefined
  const stored = toStored(event)
  return stored.position > after ? stored : undefined
}

/** Largest position a JS number holds exactly (a log of 8 PiB); old servers put u64 max in stream reads. */
const MAX_POSITION = BigInt(Number.MAX_SAFE_INTEGER)

const toStored = (event: RecordedEvent): StoredEvent => {
  // The client always fills `position` in (the wire fields are never absent), but old servers put
  // u64 max there on stream reads. Positions are part of the port, so refuse those.
  const { commit } = event.position as Position
  if (commit > MAX_POSITION) throw new Error('EventStoreDB sent an event without its $all position; use a current server')
  return {
    id: event.id,
    stream: event.streamId,
    revision: Number(event.revision),
    position: Number(commit),
    type: event.type,
    data: event.data,
    // The client leaves empty metadata undefined; the port has JSON, where that is null.
    metadata: event.metadata ?? null,
    recorded_at: event.created.toISOString(),
  }
}

/**
 * gRPC status codes that mean "could not reach the server", not "the server said no": CANCELLED
 * (the server went away mid-call), DEADLINE_EXCEEDED and UNAVAILABLE (down, restarting, no leader
 * reachable). The client's own error classes carry the same code, and the lazy server-features
 * call lets a raw gRPC error through, so the code is what to look at.
 */
const CONNECTION_FAILURE_CODES: ReadonlySet<unknown> = new Set([1, 4, 14])

const isConnectionFailure = (error: unknown): boolean =>
  typeof error === 'object' && error !== null && 'code' in error && CONNECTION_FAILURE_CODES.has(error.code)

const toPortError = (error: unknown): unknown =>
  isConnectionFailure(error)
    ? new EventStoreUnavailable(`EventStoreDB is unreachable: ${(error as Error).message}`, { cause: error })
    : error
