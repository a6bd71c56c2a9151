/**
 * Where instances tell each other how far their read models are: each live instance has one
 * entry (its id and the event-store position its projector has applied), refreshed by a
 * heartbeat and gone once not refreshed for `ttlMs`, so a dead instance is never waited for.
 * Adapters keep it in what the instances already share: Redis keys with a TTL, or a SQLite file
 * beside the embedded event store.
 */
export interface InstanceEntry {
  readonly id: string
  readonly position: number
}

export interface InstanceRegistry {
  /** Sets this instance's entry and restarts its time to live. */
  publish(entry: InstanceEntry): Promise<void>
  /** The entries refreshed within the time to live, this instance's included. */
  live(): Promise<readonly InstanceEntry[]>
  /** Drops this instance's entry at once (a clean shutdown), then lets go of the connection. */
  close(id: string): Promise<void>
}

/** How often an entry is refreshed, and how long it lives without a refresh. */
export const HEARTBEAT_MS = 1000
export const ENTRY_TTL_MS = 5000

export interface Stamped extends InstanceEntry {
  /** When the entry was last published (ms since epoch, the registry's clock). */
  readonly seenAt: number
}

/** The entries still alive at `now`: refreshed less than `ttlMs` ago. */
export const liveAt = (entries: readonly Stamped[], now: number, ttlMs: number): InstanceEntry[] =>
  entries.filter((e) => now - e.seenAt < ttlMs).map(({ id, position }) => ({ id, position }))
