import { setTimeout as sleep } from 'node:timers/promises'
import { HEARTBEAT_MS, type InstanceRegistry } from './registry.js'

/** What an answer says of a change that withdraws access: how many live instances have applied it. */
export interface PropagationReport {
  /** Live instances, this one included. */
  readonly instances: number
  /** Of those, how many had applied the change when the answer was sent (this one always has). */
  readonly confirmed: number
  /** How long the wait took. */
  readonly ms: number
}

export interface Propagation {
  /** Resolves once every live instance has applied `position`, or once the timeout has passed. */
  confirm(position: number): Promise<PropagationReport>
}

/** What this instance publishes: its projector, read after each committed batch. */
export interface AppliedSource {
  /** Every event at or below it is in this instance's read models, and its caches know it. */
  readonly position: number
  /** Caught up once: before that, the instance serves nothing (`/readyz` 503) and is not waited for. */
  readonly ready: boolean
  /** Called after each committed batch; returns a function that stops the calls. */
  onApplied(listener: () => void): () => void
}

export interface PropagationDeps {
  readonly id: string
  readonly registry: InstanceRegistry
  readonly applied: AppliedSource
  readonly timeoutMs: number
  /** How often a waiting answer reads the registry again. */
  readonly pollMs?: number
  readonly heartbeatMs?: number
  /** A monotonic clock in ms, and the pause between reads: tests drive both. */
  readonly now?: () => number
  readonly wait?: (ms: number) => Promise<void>
  readonly onError?: (e: unknown, when: 'publish' | 'read') => void
}

export interface RunningPropagation extends Propagation {
  close(): Promise<void>
}

/**
 * Publishes this instance's applied position after every committed batch and on a heartbeat, and
 * waits, without holding the event loop, for the other live instances to reach a position.
 */
export const startPropagation = (deps: PropagationDeps): RunningPropagation => {
  const { id, registry, applied, timeoutMs } = deps
  const pollMs = deps.pollMs ?? 5
  const now = deps.now ?? (() => performance.now())
  const wait = deps.wait ?? ((ms: number) => sleep(ms))
  const onError = deps.onError ?? (() => {})
  let closed = false
  let inFlight: Promise<void> | undefined
  let again = false
  // One publish at a time; batches applied meanwhile are covered by one more publish after it.
  const publish = (): void => {
    if (closed || !applied.ready) return
    if (inFlight) {
      again = true
      return
    }
    inFlight = registry
      .publish({ id, position: applied.position })
      .catch((e: unknown) => onError(e, 'publish'))
      .finally(() => {
        inFlight = undefined
        if (again) {
          again = false
          publish()
        }
      })
  }
  const stopListening = applied.onApplied(publish)
  const heartbeat = setInterval(publish, deps.heartbeatMs ?? HEARTBEAT_MS)
  heartbeat.unref()
  publish()

  const round = (ms: number) => Math.round(ms * 10) / 10
  // How many instances the last successful read found: what an answer says when the registry
  // cannot be read, so that an outage reads as unconfirmed rather than as one lone instance.
  let known = 1
  return {
    async confirm(position) {
      const started = now()
      // This instance has applied the change: the command is answered only once it has.
      let seen = { instances: known, confirmed: 1 }
      for (;;) {
        let others
        try {
          others = (await registry.live()).filter((e) => e.id !== id)
        } catch (e) {
          // The registry cannot be read: say what was last known rather than wait for nothing.
          onError(e, 'read')
          break
        }
        seen = { instances: others.length + 1, confirmed: others.filter((e) => e.position >= position).length + 1 }
        known = seen.instances
        const left = timeoutMs - (now() - started)
        if (seen.confirmed === seen.instances || left <= 0) break
        await wait(Math.min(pollMs, left))
      }
      return { ...seen, ms: round(now() - started) }
    },
    async close() {
      closed = true
      clearInterval(heartbeat)
      stopListening()
      await inFlight
      // Shutting down with the registry unreachable: the entry then expires by itself.
      await registry.close(id).catch((e: unknown) => onError(e, 'publish'))
    },
  }
}

/** Where the instances cannot see each other (EventStoreDB without Redis): this one confirms alone. */
export const alone: Propagation = {
  confirm: async () => ({ instances: 1, confirmed: 1, ms: 0 }),
}
