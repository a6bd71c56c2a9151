import * as E from 'fp-ts/lib/Either.js'
import type { EventStore, VersionConflict } from '../eventstore/port.js'
import type { CliContext } from './io.js'
import { count, row } from './output.js'
import { progressBar } from './progress.js'
import { emptyCounts, seedHistory, type SeedAppend, type SeedPlan } from './seed-history.js'


export interface SeedOptions {
  stacks: number
  tokensPerStack: number
  changes: number
  seed: number
  start: number
  json?: boolean
}

/** Events per bulk transaction on the embedded store. */
const BATCH_EVENTS = 20_000

/** Appends in large batches: one transaction per batch on SQLite, one append per command elsewhere. */
const appender = (store: EventStore) => {
  const embedded = store.embedded
  if (embedded) return async (batch: readonly SeedAppend[]) => embedded.appendBatchSync(batch)
  return async (batch: readonly SeedAppend[]): Promise<E.Either<VersionConflict, unknown>> => {
    for (const a of batch) {
      const r = await store.append(a.stream, a.events, a.expected)
      if (E.isLeft(r)) return r
    }
    return E.right(undefined)
  }
}

/** Appends the plan's history to `store`; the exit code. */
export const seed = async (
  store: EventStore,
  opts: SeedOptions,
  policy: SeedPlan['policy'],
  { io }: CliContext,
): Promise<number> => {
  const plan: SeedPlan = {
    stacks: opts.stacks,
    tokensPerStack: opts.tokensPerStack,
    changes: opts.changes,
    seed: opts.seed,
    start: new Date(opts.start),
    policy: {
      maxTokensPerStack: policy.maxTokensPerStack,
      planReadLimit: policy.planReadLimit,
      planWriteLimit: policy.planWriteLimit,
      maxMembersPerStack: policy.maxMembersPerStack,
      maxEmailsPerShare: policy.maxEmailsPerShare,
      maxStacksPerUser: policy.maxStacksPerUser,
    },
  }
  const counts = emptyCounts()
  const append = appender(store)
  const expected = opts.stacks * (2 + opts.tokensPerStack * (1 + opts.changes))
  const bar = progressBar(io, 'seed', expected)
  const started = performance.now()
  let batch: SeedAppend[] = []
  let inBatch = 0
  const flush = async (): Promise<VersionConflict | undefined> => {
    const r = await append(batch)
    batch = []
    inBatch = 0
    bar.update(counts.events)
    return E.isLeft(r) ? r.left : undefined
  }
  for (const a of seedHistory(plan, counts)) {
    batch.push(a)
    inBatch += a.events.length
    if (inBatch >= BATCH_EVENTS) {
      const conflict = await flush()
      if (conflict) return failed(conflict, bar.stop, io.err)
    }
  }
  const conflict = await flush()
  if (conflict) return failed(conflict, bar.stop, io.err)
  bar.stop()
  const seconds = (performance.now() - started) / 1000
  const byType = Object.entries(counts.byType).sort(([a], [b]) => (a < b ? -1 : 1))
  if (opts.json) {
    io.out(`${JSON.stringify({ ...counts, byType: Object.fromEntries(byType), seconds: Number(seconds.toFixed(3)) })}\n`)
    return 0
  }
  const rate = Math.round(counts.events / Math.max(seconds, 1e-9))
  io.out(
    `seeded ${count(counts.events)} events from ${count(counts.commands)} commands ` +
      `(${count(counts.rejected)} rejected, ${count(counts.unchanged)} unchanged) in ${seconds.toFixed(1)} s (${count(rate)} events/s)\n`,
  )
  for (const [type, n] of byType) io.out(`  ${row([type, count(n).padStart(12)], [26])}`)
  return 0
}

const failed = (c: VersionConflict, stop: () => void, err: (s: string) => void): number => {
  stop()
  err(`seed: stream ${c.stream} already exists (this --seed was loaded before?); nothing of the last batch was appended. Use another --seed or an empty store.\n`)
  return 1
}
