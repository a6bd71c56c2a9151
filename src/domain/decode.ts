import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import { PathReporter } from 'io-ts/lib/PathReporter.js'
import { EVENT_CODECS, EventMetadata, SCHEMA_VERSION, type DomainEvent, type Recorded } from './events.js'

/** An event as a store keeps it, its data and metadata parsed from JSON but not yet decoded. */
export interface StoredParts {
  readonly position: number
  readonly id: string
  readonly stream: string
  readonly revision: number
  readonly type: string
  readonly data: unknown
  readonly metadata: unknown
}

export class EventDecodeError extends Error {
  constructor(
    readonly position: number,
    readonly stream: string,
    readonly type: string,
    readonly problems: string[],
  ) {
    super(`cannot decode event ${type} at position ${position} of ${stream}: ${problems.join('; ')}`)
    this.name = 'EventDecodeError'
  }
}

/**
 * Old schema versions are brought up to the current one here, before decoding. There is only
 * version 1 so far; a future version adds a case that rewrites `data` of older events.
 */
const upcast = (type: string, data: unknown, metadata: unknown): { type: string; data: unknown; metadata: unknown } => ({
  type,
  data,
  metadata,
})

const problems = <A>(v: t.Validation<A>) => PathReporter.report(v)

export const decodeStored = (stored: StoredParts): E.Either<EventDecodeError, Recorded> =>
  decodeParts(stored.position, stored.id, stored.stream, stored.revision, stored.type, stored.data, stored.metadata)

/** decodeStored from a stored event's parts: a rebuild decodes rows read as arrays with no object between. */
export const decodeParts = (
  position: number,
  id: string,
  stream: string,
  revision: number,
  type: string,
  data: unknown,
  metadata: unknown,
): E.Either<EventDecodeError, Recorded> => {
  const up = upcast(type, data, metadata)
  // Fast path for replays and rebuilds: `is` checks the same codecs without allocating; decode
  // (below) runs only for an invalid event, to report its problems.
  const event = { type: up.type, data: up.data }
  if (EVENT_CODECS.get(up.type)?.is(event) && EventMetadata.is(up.metadata) && up.metadata.schema_version <= SCHEMA_VERSION) {
    return E.right({ event: event as DomainEvent, metadata: up.metadata, stream, revision, position, id })
  }
  const fail = (p: string[]) => new EventDecodeError(position, stream, type, p)
  return pipe(
    E.Do,
    E.apS(
      'event',
      pipe(
        EVENT_CODECS.get(up.type)?.decode({ type: up.type, data: up.data }) ?? E.left([]),
        E.mapLeft((e) => fail(e.length === 0 ? [`unknown event type ${up.type}`] : problems(E.left(e)))),
        E.map((e) => e as DomainEvent),
      ),
    ),
    E.apS('metadata', pipe(EventMetadata.decode(up.metadata), E.mapLeft((e) => fail(problems(E.left(e)))))),
    E.filterOrElse(
      ({ metadata }) => metadata.schema_version <= SCHEMA_VERSION,
      ({ metadata }) => fail([`schema_version ${metadata.schema_version} is newer than this build (${SCHEMA_VERSION})`]),
    ),
    E.map(({ event, metadata }) => ({ event, metadata, stream, revision, position, id })),
  )
}

/** Decode or throw: for paths where a bad event must stop the work loudly. */
export const decodeOrThrow = (stored: StoredParts): Recorded =>
  pipe(
    decodeStored(stored),
    E.getOrElseW((e) => {
      throw e
    }),
  )
