import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import * as E from 'fp-ts/lib/Either.js'
import type { Command, Policy } from '../domain/commands.js'
import { decide } from '../domain/decide.js'
import { domainError, type DomainError } from '../domain/errors.js'
import { SCHEMA_VERSION, type DomainEvent, type EventMetadata, type Recorded } from '../domain/events.js'
import { evolve, initialState, type StackState } from '../domain/state.js'
import type { EventStore, NewEvent } from '../eventstore/port.js'
import { stackStream } from '../eventstore/streams.js'
import { decodeOrThrow } from '../read/decode.js'
import { type IdempotencyMark, priorUse } from './idempotency.js'
import { KeyedQueue } from './keyed-queue.js'

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
  /** The stack's state after the events. */
  readonly state: StackState
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
  /** Resolves once this instance's read models include `position` (SPEC 6.5). */
  readonly waitForProjection: (position: number) => Promise<void>
  readonly maxAttempts?: number
  /** Pause before retry `attempt` (1-based) after a conflict; default: full jitter, 5 ms doubling. */
  readonly backoffMs?: (attempt: number) => number
}

/**
 * Instances that keep colliding on one stack would otherwise retry in lockstep and one could
 * lose every round; a random pause that grows with each attempt breaks the tie.
 */
const fullJitter = (attempt: number): number => Math.random() * 5 * 2 ** (attempt - 1)

/**
 * The write path: read the stack's one stream, fold, decide, append with the expected revision;
 * on a conflict (another instance appended in between) try again from a fresh read, a bounded
 * number of times; answer only once the read models have caught up with the new events.
 */
export const createCommandHandler = (deps: CommandHandlerDeps) => {
  const queue = new KeyedQueue()
  const maxAttempts = deps.maxAttempts ?? 5
  const backoffMs = deps.backoffMs ?? fullJitter

  const attempt = async (apiKey: string, command: Command, ctx: RequestContext) => {
    const stream = stackStream(apiKey)
    const stored = await deps.store.readStream(stream)
    const records = stored.map(decodeOrThrow)
    const now = deps.clock()
    const prior = ctx.idempotency ? priorUse(records, ctx.idempotency, now) : { kind: 'none' as const }
    if (prior.kind === 'other') return { kind: 'done' as const, result: E.left<CommandError, Handled>(keyReused) }
    if (prior.kind === 'same') {
      const upTo = records.slice(0, prior.upTo + 1)
      const last = prior.events[prior.events.length - 1] as Recorded
      // Another instance may have appended them: answer once this instance's read models have them.
      await deps.waitForProjection(last.position)
      const result: Handled = {
        events: prior.events.map((r) => r.event),
        state: upTo.reduce((s, r) => evolve(s, r.event), initialState),
        position: last.position,
        replayed: upTo,
      }
      return { kind: 'done' as const, result: E.right<CommandError, Handled>(result) }
    }
    const state = records.reduce((s, r) => evolve(s, r.event), initialState)
    const decision = decide(command, state, { now, policy: deps.policy })
    if (E.isLeft(decision)) return { kind: 'done' as const, result: decision }
    const events = decision.right
    if (events.length === 0) return { kind: 'done' as const, result: E.right<CommandError, Handled>({ events, state, position: undefined }) }
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
    const last = stored[stored.length - 1]
    const appended = await deps.store.append(stream, toAppend, last ? last.revision : 'no_stream')
    if (E.isLeft(appended)) return { kind: 'conflict' as const }
    await deps.waitForProjection(appended.right.position)
    const after = events.reduce(evolve, state)
    return { kind: 'done' as const, result: E.right<CommandError, Handled>({ events, state: after, position: appended.right.position }) }
  }

  return (apiKey: string, command: Command, ctx: RequestContext): Promise<E.Either<CommandError, Handled>> =>
    queue.run(apiKey, async () => {
      for (let i = 0; i < maxAttempts; i += 1) {
        if (i > 0) await sleep(backoffMs(i))
        const outcome = await attempt(apiKey, command, ctx)
        if (outcome.kind === 'done') return outcome.result
      }
      return E.left({
        code: 'conflict' as const,
        message: `The stack changed concurrently ${maxAttempts} times; try again.`,
      })
    })
}

export type CommandHandler = ReturnType<typeof createCommandHandler>

const keyReused: DomainError = domainError('validation', 'Idempotency-Key: was already used for a different request.', {
  'Idempotency-Key': ['was already used for a different request (another route, token or body); use a new key'],
})

export const notFoundStack = domainError('stack-not-found', 'Stack not found.')
