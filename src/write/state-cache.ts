import { initialState, type OwnedState } from '../domain/state.js'
import { KeyUses } from './idempotency.js'

/** One stack's stream folded up to `revision` (-1: nothing read yet), and the keys used in it. */
export interface Folded {
  state: OwnedState
  revision: number
  readonly keys: KeyUses
}

export const unread = (): Folded => ({ state: initialState, revision: -1, keys: new KeyUses() })

/** What an entry costs: its members, tokens and key uses. */
const weightOf = (f: Folded): number =>
  1 + f.keys.size + (f.state.status === 'active' ? f.state.members.size + f.state.tokens.size : 0)

/**
 * The folded state of recently used stacks (a snapshot per stack, as EventStoreDB users keep),
 * so that a command folds only the events appended since; least recently used out first, within
 * a budget of members, tokens and key uses in all. Entries are taken out while a command works
 * on them and put back when consistent: one that fails half-way is simply not there any more.
 */
export class StateCache {
  private readonly entries = new Map<string, { readonly folded: Folded; readonly weight: number }>()
  private weight = 0

  constructor(private readonly budget: number) {}

  /** The stack's entry, no longer in the cache; undefined when it was not kept. */
  take(stream: string): Folded | undefined {
    const entry = this.entries.get(stream)
    if (!entry) return undefined
    this.entries.delete(stream)
    this.weight -= entry.weight
    return entry.folded
  }

  /** Keeps `folded` as the most recently used, and lets the least recently used go beyond the budget. */
  put(stream: string, folded: Folded): void {
    this.take(stream)
    const weight = weightOf(folded)
    if (weight > this.budget) return
    this.entries.set(stream, { folded, weight })
    this.weight += weight
    // Map order is insertion order: the first key is the least recently put.
    while (this.weight > this.budget) this.take(this.entries.keys().next().value as string)
  }

  /** Stacks kept (for tests and metrics). */
  get size(): number {
    return this.entries.size
  }
}
