import { setImmediate as nextTurn } from 'node:timers/promises'
import type { EventStore, StoredEvent } from './port.js'

/** Events per page: decoding and folding one takes about a millisecond. */
export const STREAM_PAGE = 256

export interface PageRange {
  /** The last revision to read (default: the stream's end). */
  readonly toRevision?: number
  readonly pageSize?: number
}

/**
 * Reads a stream from `fromRevision` a page at a time, handing each page to `onPage`, and lets
 * the event loop turn between pages: a long stream never holds every other request (forward-auth
 * of other stacks included) for more than one page's work.
 */
export const forEachPage = async (
  store: EventStore,
  stream: string,
  fromRevision: number,
  onPage: (events: readonly StoredEvent[]) => void,
  range: PageRange = {},
): Promise<void> => {
  const pageSize = range.pageSize ?? STREAM_PAGE
  const last = range.toRevision ?? Number.POSITIVE_INFINITY
  let from = fromRevision
  for (;;) {
    const maxCount = Math.min(pageSize, last - from + 1)
    if (maxCount <= 0) return
    // Only what was asked for, even from a store (or a wrapper) that reads more.
    const page = (await store.readStream(stream, { fromRevision: from, maxCount })).filter((e) => e.revision >= from && e.revision <= last)
    if (page.length === 0) return
    onPage(page)
    from = (page[page.length - 1] as StoredEvent).revision + 1
    if (page.length < maxCount) return
    await nextTurn()
  }
}
