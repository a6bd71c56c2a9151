import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import * as E from 'fp-ts/lib/Either.js'
import type { Command, Policy } from '../domain/commands.js'
import { decide } from '../domain/decide.js'
import { domainError, type DomainError } from '../domain/errors.js'
import { SCHEMA_VERSION, type DomainEvent, type EventMetadata, type Recorded } from '../domain/events.js'
import { evolveOwned } from '../domain/state.js'
import { forEachPage } from '../eventstore/pages.js'
import type { EventStore, NewEvent } from '../eventstore/port.js'
import { stackStream } from '../eventstore/streams.js'
import { decodeOrThrow } from '../domain/decode.js'
import type { IdempotencyMark } from './idempotency.js'
import { KeyedQueue } from './keyed-queue.js'
import { type Folded, StateCache, unread } from './state-cache.js'

export interface RequestContext {
  readonly requestId: string
  readonly remoteAddr: string
  /** The request's `Idempotency-Key`, as hashes (see ./idempotency.ts). */
  readonly idempotency?: IdempotencyMark
  /**
   * Ids for the decided events, in order, when the caller must know them before the append (the
   * expiry reactor writes its outbox intent under the id first); otherwise new UUIDs.
   */
  readonly eventIds?: readonly string[]
}

export interface Handled {
  readonly events: readonly DomainEvent[]
  readonly position: number | undefined
  /**
   * Set when the request's `Idempotency-Key` was already used for the same request: nothing was
   * appended, `events` are the first execution's, and this is the stream up to the last of them,
   * from which the first answer can be rebuilt.
   */
  readonly replayed?: readonly Recorded[]
}

export type CommandError = DomainError | { readonly code: 'conflict'; readonly message: string }

export interface CommandHandlerDeps {
  readonly store: EventStore
  readonly clock: () => Date
  readonly policy: Policy
  /** Resolves once this instance's read models include `position`: a command is answered only then. */
  readonly waitForProjection: (position: number) => Promise<void>
  /** How many stacks the user (uid) has created, from the read models: the per-user quota. */
  readonly stacksCreatedBy: (uid: string) => number
  readonly maxAttempts?: number
  /** Pause before retry `attempt` (1-based) after a conflict; default: full jitter, 5 ms doubling. */
  readonly backoffMs?: (attempt: number) => number
  /** Members, tokens and key uses the folded stacks kept in memory may hold in all. */
  readonly cacheBudget?: number
}

/** About 40 MB of folded stacks (250,000 members folded take 33 MB). */
export const DEFAULT_CACHE_BUDGET = 250_000

/**
 * Instances that keep colliding on one stack would otherwise retry in lockstep and one could
 * lose every round; a random pause that grows with each attempt breaks the tie.
 */
const fullJitter = (attempt: number): number => Math.random() * 5 * 2 ** (attempt - 1)

type Outcome = { readonly kind: 'done'; readonly result: E.Either<CommandError, Handled> } | { readonly kind: 'conflict' }
const done = (result: E.Either<CommandError, Handled>): Outcome => ({ kind: 'done', result })

/**
 * The write path: bring the stack's folded state up to date (only the events appended since it
 * was last folded, a page at a time), decide, append with the revision it was folded to; on a
 * conflict (another instance appended in between) fold what was appended and try again, a
 * bounded number of times; answer only once the read models have caught up with the new events.
 * One handler per instance, so commands on one stack run one at a time against one state.
 */
export const createCommandHandler = (deps: CommandHandlerDeps) => {
  const stacks = new KeyedQueue()
  const creators = new KeyedQueue()
  const cache = new StateCache(deps.cacheBudget ?? DEFAULT_CACHE_BUDGET)
  const maxAttempts = deps.maxAttempts ?? 5
  const backoffMs = deps.backoffMs ?? fullJitter

  /** The stack's state folded to the stream's end; evolveOwned changes the taken entry in place. */
  const load = async (stream: string): Promise<Folded> => {
    const folded = cache.take(stream) ?? unread()
    // A failure half-way leaves the entry out of the cache: the next command reads afresh.
    await forEachPage(deps.store, stream, folded.revision + 1, (page) => {
      for (const stored of page) {
        const r = decodeOrThrow(stored)
        folded.state = evolveOwned(folded.state, r.event, r.metadata.occurred_at)
        folded.keys.add(r.metadata, r.revision)
        folded.revision = r.revision
      }
    })
    // A stack that does not exist (yet) is not worth a place: creations come with new api_keys.
    if (folded.revision >= 0) cache.put(stream, folded)
    return folded
  }

  /** The first execution's events and the stream up to them, for a repeated Idempotency-Key. */
  const replay = async (stream: string, revisions: readonly number[]): Promise<Handled> => {
    const upTo: Recorded[] = []
    await forEachPage(deps.store, stream, 0, (page) => upTo.push(...page.map(decodeOrThrow)), { toRevision: revisions[revisions.length - 1] as number })
    const wanted = new Set(revisions)
    const last = upTo[upTo.length - 1] as Recorded
    // Another instance may have appended them: answer once this instance's read models have them.
    await deps.waitForProjection(last.position)
    return { events: upTo.filter((r) => wanted.has(r.revision)).map((r) => r.event), position: last.position, replayed: upTo }
  }

  const attempt = async (apiKey: string, command: Command, ctx: RequestContext): Promise<Outcome> => {
    const stream = stackStream(apiKey)
    const folded = await load(stream)
    const now = deps.clock()
    const prior = ctx.idempotency ? folded.keys.lookup(ctx.idempotency, now) : { kind: 'none' as const }
    if (prior.kind === 'other') return done(E.left(keyReused))
    if (prior.kind === 'same') return done(E.right(await replay(stream, prior.revisions)))
    const stacksCreated = command.type === 'CreateStack' ? { stacksCreated: deps.stacksCreatedBy(command.actor.uid) } : {}
    const decision = decide(command, folded.state, { now, policy: deps.policy, ...stacksCreated })
    if (E.isLeft(decision)) return done(decision)
    const events = decision.right
    if (events.length === 0) return done(E.right({ events, position: undefined }))
    const metadata: EventMetadata = {
      actor: command.actor.uid,
      actor_email: command.actor.email,
      occurred_at: now.toISOString(),
      request_id: ctx.requestId,
      remote_addr: ctx.remoteAddr,
      schema_version: SCHEMA_VERSION,
      ...(ctx.idempotency ? { idempotency: ctx.idempotency } : {}),
    }
    const toAppend: NewEvent[] = events.map((e, i) => ({ id: ctx.eventIds?.[i] ?? randomUUID(), type: e.type, data: e.data, metadata }))
    const appended = await deps.store.append(stream, toAppend, folded.revision < 0 ? 'no_stream' : folded.revision)
    // The entry stays right at its revision: the next attempt folds what the other writer appended.
    if (E.isLeft(appended)) return { kind: 'conflict' }
    // Folded at once, before anything else can run: the entry is in the cache.
    for (const e of events) {
      folded.state = evolveOwned(folded.state, e, metadata.occurred_at)
      folded.revision += 1
      folded.keys.add(metadata, folded.revision)
    }
    cache.put(stream, folded)
    await deps.waitForProjection(appended.right.position)
    return done(E.right({ events, position: appended.right.position }))
  }

  const withRetries = async (apiKey: string, command: Command, ctx: RequestContext): Promise<E.Either<CommandError, Handled>> => {
    for (let i = 0; i < maxAttempts; i += 1) {
      if (i > 0) await sleep(backoffMs(i))
      const outcome = await attempt(apiKey, command, ctx)
      if (outcome.kind === 'done') return outcome.result
    }
    return E.left({
      code: 'conflict' as const,
      message: `The stack changed concurrently ${maxAttempts} times; try again.`,
    })
  }

  return (apiKey: string, command: Command, ctx: RequestContext): Promise<E.Either<CommandError, Handled>> => {
    const run = () => stacks.run(apiKey, () => withRetries(apiKey, command, ctx))
    // The quota counts the read models, which show a creation once it is answered: one user's
    // creations run one at a time, so each counts the ones before it.
    return command.type === 'CreateStack' ? creators.run(command.actor.uid, run) : run()
  }
}

export type CommandHandler = ReturnType<typeof createCommandHandler>

const keyReused: DomainError = domainError('validation', 'Idempotency-Key: was already used for a different request.', {
  'Idempotency-Key': ['was already used for a different request (another route, token or body); use a new key'],
})

export const notFoundStack = domainError('stack-not-found', 'Stack not found.')
