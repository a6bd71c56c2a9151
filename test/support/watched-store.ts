import { EventStoreUnavailable, type EventStore, type ExpectedRevision, type ReadStreamOptions } from '../../src/eventstore/port.js'

/** A real store whose stream reads and appends are recorded, with hooks to step in between. */
export class Watched implements EventStore {
  readonly reads: Array<{ readonly from: number; readonly got: number }> = []
  readonly appends: ExpectedRevision[] = []
  /** Fails the read of this number (1-based, counting from now) as an unreachable store. */
  failRead: number | undefined
  /** Runs once before the next append goes through: another writer's turn. */
  beforeAppend: (() => Promise<unknown>) | undefined
  /** Told of every stream read before it is answered, and of every append once it is done. */
  onRead: ((stream: string, options: ReadStreamOptions | undefined) => void) | undefined
  onAppended: ((stream: string) => void) | undefined
  constructor(private readonly inner: EventStore) {}

  async readStream(stream: string, options?: ReadStreamOptions) {
    if (this.failRead !== undefined && (this.failRead -= 1) === 0) throw new EventStoreUnavailable('connection reset (test fault)')
    this.onRead?.(stream, options)
    const events = await this.inner.readStream(stream, options)
    this.reads.push({ from: options?.fromRevision ?? 0, got: events.length })
    return events
  }

  async append(...args: Parameters<EventStore['append']>) {
    const before = this.beforeAppend
    this.beforeAppend = undefined
    await before?.()
    this.appends.push(args[2])
    const result = await this.inner.append(...args)
    this.onAppended?.(args[0])
    return result
  }

  readAll = (o?: Parameters<EventStore['readAll']>[0]) => this.inner.readAll(o)
  subscribe = (o: Parameters<EventStore['subscribe']>[0]) => this.inner.subscribe(o)
  close = () => this.inner.close()

  /** The reads since the last call. */
  takeReads() {
    return this.reads.splice(0)
  }
}
