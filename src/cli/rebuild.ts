import type { Command } from 'commander'
import { PROJECTIONS } from '../../projections/index.js'
import type { Projection } from '../read/projection.js'
import type { CliContext } from './io.js'

/** The projections named (all of them when none is), or why a name is not one. */
export const selectProjections = (names: readonly string[]): Projection[] | string => {
  if (names.length === 0) return [...PROJECTIONS]
  const unknown = names.filter((n) => !PROJECTIONS.some((p) => p.name === n))
  if (unknown.length > 0)
    return `unknown projection ${unknown.map((n) => `"${n}"`).join(', ')}; valid names: ${PROJECTIONS.map((p) => p.name).join(', ')}`
  return PROJECTIONS.filter((p) => names.includes(p.name))
}

/** `rebuild`: its arguments here; the work (rebuild-run.ts) is loaded when it runs. */
export const registerRebuild = (program: Command, ctx: CliContext): void => {
  program
    .command('rebuild')
    .description('rebuild read models from position 0 into fresh tables and swap them in atomically (a running service keeps answering)')
    .argument('[projection...]', `projections to rebuild (default: all the store has): ${PROJECTIONS.map((p) => p.name).join(', ')}`)
    .option('--verify', 'rebuild aside and report every difference from the live read models (exit 1 on any), changing nothing')
    .action(async (names: string[], opts: { verify?: boolean }, cmd: Command) => {
      const selected = selectProjections(names)
      if (typeof selected === 'string') return cmd.error(`error: ${selected}`)
      const { rebuildCommand } = await import('./rebuild-run.js')
      ctx.exit(await rebuildCommand(ctx.io, selected, names.length > 0, opts.verify === true))
    })
}
