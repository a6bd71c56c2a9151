import type { Command } from 'commander'
import type { CliContext } from './io.js'
import { parseInstant, parseInteger } from './options.js'
import type { SeedOptions } from './seed-run.js'
import { withConfiguredStore } from './with-store.js'

/** `seed`: its options here; the work (seed-run.ts) is loaded when it runs. */
export const registerSeed = (program: Command, ctx: CliContext): void => {
  program
    .command('seed')
    .description(
      'append a synthetic but valid history (decided by the domain, deterministic for a --seed) to the configured event store',
    )
    .requiredOption('--stacks <n>', 'number of stacks', parseInteger(1))
    .requiredOption('--tokens-per-stack <m>', 'tokens generated per stack', parseInteger(0))
    .requiredOption('--changes <k>', 'changes per token on average (renames, scope, limits, expiry, rotations, revocations, members)', parseInteger(0))
    .option('--seed <s>', 'PRNG seed: the same seed gives the same history', parseInteger(0), 1)
    .option('--start <iso>', 'first instant of the synthetic clock (it advances 1-60 s per command)', parseInstant, Date.parse('2025-01-01T00:00:00.000Z'))
    .option('--json', 'print the counts as one JSON object')
    .action(async (opts: SeedOptions) => {
      const { seed } = await import('./seed-run.js')
      ctx.exit(await withConfiguredStore(ctx.io.env, (store, config) => seed(store, opts, config, ctx)))
    })
}
