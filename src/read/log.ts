import * as E from 'fp-ts/lib/Either.js'
import { decodeParts, decodeStored, EventDecodeError } from '../domain/decode.js'
import type { Recorded } from '../domain/events.js'
import type { EmbeddedLog, EventStore, RawEventRow, RawShareRow } from '../eventstore/port.js'

/** One event of the log: decoded, or the reason it could not be, with its position. */
export type LogItem = E.Either<EventDecodeError, Recorded>

export interface ReadLogOptions {
  /** Only events with a position strictly greater than this. */
  readonly after?: number
  /** Only events with a position up to this one (inclusive). */
  readonly upTo?: number
  /** Events per page: large pages make replays and rebuilds fast. */
  readonly pageSize?: number
}

/** Events per page (and per transaction, when rebuilding) unless a caller says otherwise. */
export const PAGE_SIZE = 10_000

/** Reading the store itself failed (not one event): the replay cannot go on. */
export class LogReadError extends Error {
  constructor(readonly after: number, cause: unknown) {
    super(`reading the event store after position ${after} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
    this.name = 'LogReadError'
  }
}

/** Decodes one raw row of a share, read as an array: bad JSON and codec failures alike become an EventDecodeError with the position. */
export const decodeShareRow = ([position, id, stream, revision, type, data, metadata]: RawShareRow): LogItem => {
  let d: unknown
  let m: unknown
  try {
    d = JSON.parse(data)
    m = JSON.parse(metadata)
  } catch (e) {
    return E.left(new EventDecodeError(position, stream, type, [`stored JSON is not valid: ${(e as Error).message}`]))
  }
  return decodeParts(position, id, stream, revision, type, d, m)
}

/** decodeShareRow for a row read as an object. */
export const decodeRaw = (r: RawEventRow): LogItem => decodeShareRow([r.position, r.id, r.stream, r.revision, r.type, r.data, r.metadata])

/**
 * The log in pages, every event decoded with the io-ts codecs (after upcasting). A bad event is
 * an item of its own, never skipped and never the end of the replay. On the embedded store the
 * rows are read synchronously in large pages (fast, and a row with bad JSON is reported at its
 * position); any other store is read through the port's `readAll`.
 */
export async function* readLog(store: EventStore, options: ReadLogOptions = {}): AsyncGenerator<LogItem[]> {
  const pageSize = options.pageSize ?? PAGE_SIZE
  const upTo = options.upTo ?? Number.POSITIVE_INFINITY
  let after = options.after ?? 0
  if (store.embedded) {
    for (;;) {
      const rows = readRawPage(store.embedded, after, pageSize, upTo)
      if (rows.length === 0) return
      after = (rows[rows.length - 1] as RawEventRow).position
      yield rows.map(decodeRaw)
    }
  }
  let page: LogItem[] = []
  let failure: LogReadError | undefined
  try {
    for await (const e of store.readAll({ after })) {
      if (e.position > upTo) break
      after = e.position
      page.push(decodeStored(e))
      if (page.length >= pageSize) {
        yield page
        page = []
      }
    }
  } catch (e) {
    failure = new LogReadError(after, e)
  }
  if (page.length > 0) yield page // what was read before a failure is still reported
  if (failure) throw failure
}

/** A synchronous page of raw rows (embedded store only), for catching up inside a transaction. */
export const readRawPage = (store: EmbeddedLog, after: number, pageSize: number, upTo = Number.POSITIVE_INFINITY): RawEventRow[] => {
  if (after >= upTo) return []
  const rows = store.readRawPage(after, pageSize)
  if (upTo === Number.POSITIVE_INFINITY) return rows
  const end = rows.findIndex((r) => r.position > upTo)
  return end < 0 ? rows : rows.slice(0, end)
}
