import type { Registry } from 'prom-client'
import type { Authorizer } from '../authorizer/decide.js'
import type { Config } from '../config.js'
import type { EventStore } from '../eventstore/port.js'
import type { Propagation } from '../propagation/propagation.js'
import type { Queries } from '../../projections/queries.js'
import type { CommandHandler } from '../write/handle-command.js'
import type { UsageReads } from '../usage/usage.js'

/** Whether this instance's read models have caught up (`/readyz`), and how far they are. */
export interface Readiness {
  readonly ready: boolean
  readonly position: number
}

/** Who mails a leaked token's owner and admins: the reactor's intents (without them, no mail). */
export interface LeakNotices {
  /** Before appending a leaked token's revocation under `eventId`. */
  intend(eventId: string, apiKey: string, tokenUid: string): void
  /** That append was refused. */
  drop(eventId: string): void
}

/**
 * What the HTTP layer is given, all of it built once per instance by the composition root
 * (src/service.ts): the app builds none of these itself, so the management routes, the expiry
 * reactor and every authorizer surface share one write path and one authorizer.
 */
export interface AppDeps {
  readonly config: Config
  readonly clock: () => Date
  readonly randomBytes: (n: number) => Buffer
  readonly metrics: Registry
  readonly queries: Queries
  /** The instance's one write path: one queue per stack and one cache of folded stacks. */
  readonly handle: CommandHandler
  /** The instance's one authorizer; whoever built it closes it. */
  readonly authorizer: Authorizer
  readonly readiness: Readiness
  /** Read by the audit log's as-of view, which folds a stack's events; commands go through `handle`. */
  readonly store: EventStore
  /** Waits for the other live instances to apply a change that withdraws access. */
  readonly propagation: Propagation
  /** Tokens' usage counts and last uses, as every instance flushed them. */
  readonly usage: UsageReads
  readonly leakNotices?: LeakNotices
}
