/**
 * TEST DOUBLE of EventStoreDB. NEVER A PRODUCTION STORE.
 *
 * An in-process `@grpc/grpc-js` server that imitates just enough of EventStoreDB's gRPC `Streams`
 * service, on an in-memory log, for the real `@eventstore/db-client` to talk to it over real gRPC.
 * It exists because the build and CI machines have no EventStoreDB server and no Docker engine,
 * yet src/eventstore/esdb.ts must be exercised through the real client. The same contract suite
 * runs against a real server when ESDB_URL is set (see test/eventstore/esdb-real.test.ts).
 *
 * Implemented: `Streams.Append`; `Streams.Read` for forward stream reads, forward $all reads, and
 * catch-up + live subscriptions to $all (stream-name / event-type filters by prefix or regex,
 * checkpoints, caughtUp). Not implemented (answered UNIMPLEMENTED or simply absent): backward
 * reads, stream subscriptions, BatchAppend, Delete, Tombstone, ServerFeatures (the client then
 * falls back to Append), persistence, ACLs, clustering, projections, link resolution.
 *
 * Wire facts it follows are in ../shared/notes/eventstoredb.md: 64-bit numbers travel as strings,
 * stream names as bytes, `created` as 100 ns ticks since the Unix epoch; a failed server-streaming
 * call is failed by emitting an error on it (destroying it would leave the client hanging).
 */
import { randomUUID } from 'node:crypto'
import {
  Metadata,
  Server,
  ServerCredentials,
  type ServerReadableStream,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import streamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js'
import streamsPb from '@eventstore/db-client/generated/streams_pb.js'

const { Empty, StreamIdentifier, UUID } = sharedPb
const { AppendResp, ReadResp } = streamsPb

type AppendReq = InstanceType<typeof streamsPb.AppendReq>
type AppendOptions = InstanceType<typeof streamsPb.AppendReq.Options>
type ProposedMessage = InstanceType<typeof streamsPb.AppendReq.ProposedMessage>
type AppendResponse = InstanceType<typeof AppendResp>
type ReadReq = InstanceType<typeof streamsPb.ReadReq>
type ReadOptions = InstanceType<typeof streamsPb.ReadReq.Options>
type ReadResponse = InstanceType<typeof ReadResp>
type ReadCall = ServerWritableStream<ReadReq, ReadResponse>

/** An event as the double's log holds it. */
export interface DoubleEvent {
  readonly stream: string
  readonly revision: number
  /** Commit position = prepare position, as EventStoreDB reports for non-transactional writes. */
  readonly position: number
  readonly id: string
  readonly type: string
  readonly contentType: string
  /** 100 ns ticks since the Unix epoch, as a decimal string. */
  readonly created: string
  readonly data: Uint8Array
  readonly metadata: Uint8Array
}

export interface EsdbDoubleOptions {
  /** Old servers sent no real $all position on stream reads (u64 max); `false` imitates them. Default `true`. */
  readonly positionsOnStreamReads?: boolean
  /** Fixed clock, for exact `created` assertions. */
  readonly now?: () => Date
}

export interface EsdbDouble {
  /** Connection string for the real client: `esdb://127.0.0.1:PORT?tls=false`. */
  readonly url: string
  readonly port: number
  /** The whole log, in position order. */
  readonly events: readonly DoubleEvent[]
  /** Live $all subscriptions currently open on the server side. */
  readonly liveSubscriptions: number
  /** Fails the next call of `method` with a gRPC status, e.g. to test non-transient errors. */
  failNext(method: 'append' | 'read', code: status, details?: string): void
  /**
   * Ends every live subscription while the server stays up: cleanly (OK) without a code, or with
   * that status, like a proxy or a server dropping a subscriber.
   */
  dropSubscriptions(code?: status): void
  /** Goes away like a crashed server: refuses connections, ends every call in flight. */
  stop(): Promise<void>
  /** Comes back on the same port with the same log: together with stop(), an outage. */
  restart(): Promise<void>
}

/** Where the first event goes; positions then grow by record size, so they are not 1, 2, 3. */
const FIRST_POSITION = 4096
/** A filtered subscription's window when the client leaves it to the server. */
const DEFAULT_FILTER_WINDOW = 32

class InMemoryLog {
  readonly events: DoubleEvent[] = []
  private readonly heads = new Map<string, number>()
  private readonly listeners = new Set<(event: DoubleEvent) => void>()
  private nextPosition = FIRST_POSITION

  constructor(private readonly now: () => Date) {}

  head(stream: string): number | undefined {
    return this.heads.get(stream)
  }

  get lastPosition(): number | undefined {
    return this.events.at(-1)?.position
  }

  /** Appends atomically and tells live subscribers synchronously, so they see no gap. */
  append(stream: string, messages: readonly ProposedMessage[]): DoubleEvent[] {
    const created = (BigInt(this.now().getTime()) * 10_000n).toString()
    let revision = this.head(stream) ?? -1
    const written = messages.map((message): DoubleEvent => {
      const metadataMap = message.getMetadataMap()
      const data = message.getData_asU8()
      const metadata = message.getCustomMetadata_asU8()
      revision += 1
      const position = this.nextPosition
      this.nextPosition += 128 + stream.length + data.length + metadata.length
      return {
        stream,
        revision,
        position,
        id: message.getId()?.getString() ?? randomUUID(),
        type: metadataMap.get('type') ?? '',
        contentType: metadataMap.get('content-type') ?? 'application/octet-stream',
        created,
        data,
        metadata,
      }
    })
    if (written.length === 0) return written
    this.events.push(...written)
    this.heads.set(stream, revision)
    for (const event of written) for (const listener of this.listeners) listener(event)
    return written
  }

  listen(listener: (event: DoubleEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

const utf8 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8')

const empty = () => new Empty()

const fail = (call: ReadCall, code: status, details: string) => {
  // Emitting (not destroying) is what makes the client see the status.
  call.emit('error', { code, details, metadata: new Metadata() })
}

const eventResponse = (event: DoubleEvent, withPosition: boolean): ReadResponse => {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
  const id = new UUID()
  id.setString(event.id)
  recorded.setId(id)
  const identifier = new StreamIdentifier()
  identifier.setStreamName(Buffer.from(event.stream, 'utf8'))
  recorded.setStreamIdentifier(identifier)
  recorded.setStreamRevision(String(event.revision))
  // Old servers filled stream reads with "no position": the largest u64.
  const position = withPosition ? String(event.position) : '18446744073709551615'
  recorded.setCommitPosition(position)
  recorded.setPreparePosition(position)
  const metadata = recorded.getMetadataMap()
  metadata.set('type', event.type)
  metadata.set('content-type', event.contentType)
  metadata.set('created', event.created)
  recorded.setCustomMetadata(event.metadata)
  recorded.setData(event.data)
  const read = new ReadResp.ReadEvent()
  read.setEvent(recorded)
  if (withPosition) read.setCommitPosition(String(event.position))
  else read.setNoPosition(empty())
  const response = new ReadResp()
  response.setEvent(read)
  return response
}

const checkpointResponse = (position: number): ReadResponse => {
  const checkpoint = new ReadResp.Checkpoint()
  checkpoint.setCommitPosition(String(position))
  checkpoint.setPreparePosition(String(position))
  const response = new ReadResp()
  response.setCheckpoint(checkpoint)
  return response
}

/** A subscription or read filter: which events match, and how often to send a checkpoint. */
interface EventFilter {
  readonly matches: (event: DoubleEvent) => boolean
  /** Send a checkpoint after this many considered events; undefined for unfiltered reads. */
  readonly checkpointEvery: number | undefined
}

const filterOf = (options: ReadOptions): EventFilter => {
  const filter = options.getFilter()
  if (!options.hasFilter() || filter === undefined) return { matches: () => true, checkpointEvery: undefined }
  const byStream = filter.hasStreamIdentifier()
  const expression = byStream ? filter.getStreamIdentifier() : filter.getEventType()
  const prefixes = expression?.getPrefixList() ?? []
  const regex = expression?.getRegex() ? new RegExp(expression.getRegex()) : undefined
  const matchesText = (text: string) =>
    (prefixes.length === 0 || prefixes.some((prefix) => text.startsWith(prefix))) && (regex === undefined || regex.test(text))
  const window = filter.hasMax() ? filter.getMax() : DEFAULT_FILTER_WINDOW
  return {
    matches: (event) => matchesText(byStream ? event.stream : event.type),
    checkpointEvery: Math.max(1, filter.getCheckpointintervalmultiplier()) * window,
  }
}

const countOf = (options: ReadOptions): number =>
  options.hasCount() ? Number(options.getCount()) : Number.POSITIVE_INFINITY

/** Starts the double on 127.0.0.1 on an ephemeral port. Call `stop()` in `t.teardown`. */
export const startEsdbDouble = async (options: EsdbDoubleOptions = {}): Promise<EsdbDouble> => {
  const log = new InMemoryLog(options.now ?? (() => new Date()))
  const positionsOnStreamReads = options.positionsOnStreamReads ?? true
  const faults = new Map<'append' | 'read', { code: status; details: string }>()
  /** Live subscription calls, each with the function that unhooks it from the log. */
  const liveCalls = new Map<ReadCall, () => void>()
  let server: Server | undefined
  let port = 0

  const takeFault = (method: 'append' | 'read') => {
    const fault = faults.get(method)
    faults.delete(method)
    return fault
  }

  const append = (call: ServerReadableStream<AppendReq, AppendResponse>, callback: sendUnaryData<AppendResponse>) => {
    let appendOptions: AppendOptions | undefined
    const proposed: ProposedMessage[] = []
    call.on('data', (request: AppendReq) => {
      if (request.hasOptions()) appendOptions = request.getOptions()
      const message = request.getProposedMessage()
      if (message !== undefined) proposed.push(message)
    })
    call.on('end', () => {
      const fault = takeFault('append')
      if (fault !== undefined) return callback({ ...fault, metadata: new Metadata() })
      if (appendOptions === undefined) return callback({ code: status.INVALID_ARGUMENT, details: 'options first' })
      callback(null, decideAppend(appendOptions, proposed))
    })
  }

  const decideAppend = (appendOptions: AppendOptions, proposed: readonly ProposedMessage[]): AppendResponse => {
    const stream = utf8(appendOptions.getStreamIdentifier()?.getStreamName_asU8() ?? new Uint8Array())
    const head = log.head(stream)
    const expected = Number(appendOptions.getRevision())
    const accepted =
      appendOptions.hasAny() ||
      (appendOptions.hasNoStream() && head === undefined) ||
      (appendOptions.hasStreamExists() && head !== undefined) ||
      (appendOptions.hasRevision() && expected === head)
    const response = new AppendResp()
    if (!accepted) {
      const wrong = new AppendResp.WrongExpectedVersion()
      if (head === undefined) wrong.setCurrentNoStream(empty())
      else wrong.setCurrentRevision(String(head))
      if (appendOptions.hasRevision()) wrong.setExpectedRevision(String(expected))
      else if (appendOptions.hasNoStream()) wrong.setExpectedNoStream(empty())
      else wrong.setExpectedStreamExists(empty())
      response.setWrongExpectedVersion(wrong)
      return response
    }
    const success = new AppendResp.Success()
    const written = log.append(stream, proposed)
    const last = written.at(-1)
    const revision = last?.revision ?? head
    if (revision === undefined) success.setNoStream(empty())
    else success.setCurrentRevision(String(revision))
    if (last === undefined) success.setNoPosition(empty())
    else {
      const position = new AppendResp.Position()
      position.setCommitPosition(String(last.position))
      position.setPreparePosition(String(last.position))
      success.setPosition(position)
    }
    response.setSuccess(success)
    return response
  }

  const read = (call: ReadCall) => {
    const fault = takeFault('read')
    if (fault !== undefined) return fail(call, fault.code, fault.details)
    const readOptions = call.request.getOptions()
    if (readOptions === undefined) return fail(call, status.INVALID_ARGUMENT, 'options required')
    if (readOptions.getReadDirection() !== streamsPb.ReadReq.Options.ReadDirection.FORWARDS) {
      return fail(call, status.UNIMPLEMENTED, 'TEST DOUBLE: backward reads are not implemented')
    }
    if (readOptions.hasStream()) {
      if (readOptions.hasSubscription()) return fail(call, status.UNIMPLEMENTED, 'TEST DOUBLE: stream subscriptions are not implemented')
      return readStream(call, readOptions)
    }
    if (readOptions.hasSubscription()) return subscribeToAll(call, readOptions)
    return readAll(call, readOptions)
  }

  const readStream = (call: ReadCall, readOptions: ReadOptions) => {
    const streamOptions = readOptions.getStream()
    const identifier = streamOptions?.getStreamIdentifier() ?? new StreamIdentifier()
    const stream = utf8(identifier.getStreamName_asU8())
    const events = log.events.filter((event) => event.stream === stream)
    if (events.length === 0) {
      const notFound = new ReadResp.StreamNotFound()
      notFound.setStreamIdentifier(identifier)
      const response = new ReadResp()
      response.setStreamNotFound(notFound)
      call.write(response)
      return call.end()
    }
    const from = streamOptions?.hasRevision() ? Number(streamOptions.getRevision()) : streamOptions?.hasEnd() ? Infinity : 0
    for (const event of events.filter((e) => e.revision >= from).slice(0, countOf(readOptions))) {
      call.write(eventResponse(event, positionsOnStreamReads))
    }
    call.end()
  }

  const readAll = (call: ReadCall, readOptions: ReadOptions) => {
    const all = readOptions.getAll()
    const position = all?.getPosition()
    // Reads include their start position (subscriptions start after it).
    const from = position !== undefined ? Number(position.getCommitPosition()) : all?.hasEnd() ? Infinity : -Infinity
    const { matches } = filterOf(readOptions)
    const events = log.events.filter((event) => event.position >= from && matches(event))
    for (const event of events.slice(0, countOf(readOptions))) call.write(eventResponse(event, true))
    call.end()
  }

  const subscribeToAll = (call: ReadCall, readOptions: ReadOptions) => {
    const all = readOptions.getAll()
    const position = all?.getPosition()
    const after = position !== undefined ? Number(position.getCommitPosition()) : all?.hasEnd() ? (log.lastPosition ?? -1) : -1
    const filter = filterOf(readOptions)
    let considered = 0
    const send = (event: DoubleEvent) => {
      considered += 1
      if (filter.matches(event)) call.write(eventResponse(event, true))
      if (filter.checkpointEvery !== undefined && considered % filter.checkpointEvery === 0) {
        call.write(checkpointResponse(event.position))
      }
    }

    const confirmation = new ReadResp.SubscriptionConfirmation()
    confirmation.setSubscriptionId(randomUUID())
    const confirmed = new ReadResp()
    confirmed.setConfirmation(confirmation)
    call.write(confirmed)
    // Catch-up and going live happen in one synchronous turn, so no append can fall between them.
    for (const event of log.events) if (event.position > after) send(event)
    if (filter.checkpointEvery !== undefined) call.write(checkpointResponse(Math.max(0, after, log.lastPosition ?? 0)))
    const caughtUp = new ReadResp()
    caughtUp.setCaughtUp(new ReadResp.CaughtUp())
    call.write(caughtUp)
    const unlisten = log.listen(send)
    const forget = () => {
      unlisten()
      liveCalls.delete(call)
    }
    liveCalls.set(call, forget)
    call.on('cancelled', forget)
    call.on('close', forget)
  }

  const listen = async () => {
    const next = new Server()
    next.addService(streamsGrpc.StreamsService, { append, read })
    port = await new Promise<number>((resolve, reject) =>
      next.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    )
    server = next
  }

  const stop = async () => {
    const current = server
    server = undefined
    for (const forget of [...liveCalls.values()]) forget()
    // forceShutdown ends the calls in flight the way a crashed server does (the client sees them cancelled).
    current?.forceShutdown()
  }

  await listen()
  return {
    get url() {
      return `esdb://127.0.0.1:${port}?tls=false`
    },
    get port() {
      return port
    },
    get events() {
      return log.events
    },
    get liveSubscriptions() {
      return liveCalls.size
    },
    dropSubscriptions(code) {
      for (const [call, forget] of [...liveCalls]) {
        forget()
        if (code === undefined) call.end()
        else fail(call, code, 'subscription dropped by the test double')
      }
    },
    failNext(method, code, details = 'injected by the test double') {
      faults.set(method, { code, details })
    },
    stop,
    async restart() {
      await stop()
      await listen()
    },
  }
}
