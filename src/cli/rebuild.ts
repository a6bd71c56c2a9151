import type { Command } from 'commander'
import { PROJECTIONS, PROJECTIONS_MODULE, projectionsFor } from '../../projections/index.js'
import { loadConfig } from '../config.js'
import { openEventStore } from '../eventstore/open.js'
import { EventDecodeError } from '../domain/decode.js'
import type { Projection } from '../read/projection.js'
import { liveHeadOfFiles, rebuildFiles, verifyFiles } from '../read/rebuild-files.js'
import type { Difference } from '../read/verify.js'
import { openReadModels } from '../service.js'
import type { CliContext, Io } from './io.js'
import { count, line } from './output.js'
import { progressBar } from './progress.js'

const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v))
const key = (k: Record<string, unknown>): string =>
  Object.entries(k)
    .map(([c, v]) => `${c}=${show(v)}`)
    .join(' ')

/** One line per difference: what the live read model has against what a rebuild from the log gives. */
export const describe = (d: Difference): string => {
  switch (d.kind) {
    case 'missing':
      return `${d.table}: missing ${key(d.key)}: in the rebuild, not in the live read model`
    case 'extra':
      return `${d.table}: extra ${key(d.key)}: in the live read model, not in the rebuild`
    case 'changed':
      return `${d.table}: changed ${key(d.key)}: ${d.columns.map((c) => `${c.column} live ${show(c.live)} != rebuilt ${show(c.rebuilt)}`).join(', ')}`
    case 'schema':
      return `${d.table}: ${d.message}`
  }
}

/** Why a projection is not rebuilt on the embedded store. */
export const NOT_KEPT = "on the embedded store the audit log is read from the event store's own rows: there is nothing to rebuild"

/** The projections named (all of them when none is), or why a name is not one. */
export const selectProjections = (names: readonly string[]): Projection[] | string => {
  if (names.length === 0) return [...PROJECTIONS]
  const unknown = names.filter((n) => !PROJECTIONS.some((p) => p.name === n))
  if (unknown.length > 0)
    return `unknown projection ${unknown.map((n) => `"${n}"`).join(', ')}; valid names: ${PROJECTIONS.map((p) => p.name).join(', ')}`
  return PROJECTIONS.filter((p) => names.includes(p.name))
}

export const registerRebuild = (program: Command, ctx: CliContext): void => {
  program
    .command('rebuild')
    .description('rebuild read models from position 0 into fresh tables and swap them in atomically (a running service keeps answering)')
    .argument('[projection...]', `projections to rebuild (default: all the store has): ${PROJECTIONS.map((p) => p.name).join(', ')}`)
    .option('--verify', 'rebuild aside and report every difference from the live read models (exit 1 on any), changing nothing')
    .action(async (names: string[], opts: { verify?: boolean }, cmd: Command) => {
      const selected = selectProjections(names)
      if (typeof selected === 'string') return cmd.error(`error: ${selected}`)
      const config = loadConfig(ctx.io.env)
      const store = await openEventStore(config.eventStoreUrl, config.dataDir)
      const kept = projectionsFor(store)
      const db = openReadModels(config.dataDir, kept)
      try {
        const projections = selected.filter((p) => kept.includes(p))
        // Said only of a projection asked for by name; "all" means all that the store keeps.
        if (names.length > 0) for (const p of selected.filter((p) => !kept.includes(p))) ctx.io.err(`${p.name}: ${NOT_KEPT}\n`)
        if (projections.length === 0) return ctx.exit(0)
        ctx.exit(await (opts.verify ? runVerify : runRebuild)(db, store, projections, ctx.io))
      } finally {
        db.close()
        await store.close()
      }
    })
}

type Runner = (
  db: ReturnType<typeof openReadModels>,
  store: Awaited<ReturnType<typeof openEventStore>>,
  projections: readonly Projection[],
  io: Io,
) => Promise<number>

const withProgress = async <T>(io: Io, label: string, total: number, work: (onProgress: (events: number, position: number) => void) => Promise<T>): Promise<T> => {
  const bar = progressBar(io, label, total)
  try {
    return await work((_events, position) => bar.update(position))
  } finally {
    bar.stop()
  }
}

const failed = (io: Io, what: string, e: unknown): number => {
  if (!(e instanceof EventDecodeError)) throw e
  io.err(line(`${what}: ${e.message}; nothing was changed`))
  return 1
}

const runRebuild: Runner = async (db, store, projections, io) => {
  const started = performance.now()
  try {
    const r = await withProgress(io, 'rebuild', await liveHeadOfFiles(db, projections), (onProgress) => rebuildFiles(db, store, projections, { onProgress, catalog: PROJECTIONS_MODULE }))
    const seconds = (performance.now() - started) / 1000
    io.out(
      `rebuilt ${r.projections.join(', ')} from ${count(r.events)} events up to position ${r.position} in ${seconds.toFixed(1)} s ` +
        `(${count(Math.round(r.events / Math.max(seconds, 1e-9)))} events/s; swap held the write lock ${r.swapMs.toFixed(0)} ms)\n`,
    )
    return 0
  } catch (e) {
    return failed(io, 'rebuild', e)
  }
}

const runVerify: Runner = async (db, store, projections, io) => {
  try {
    const r = await withProgress(io, 'verify', await liveHeadOfFiles(db, projections), (onProgress) => verifyFiles(db, store, projections, { onProgress }))
    const at = [...new Set(r.positions.values())].join(', ')
    for (const d of r.differences) io.out(line(describe(d)))
    if (r.differences.length === 0) {
      io.out(`verify: ${projections.map((p) => p.name).join(', ')} match a rebuild from the log (position ${at})\n`)
      return 0
    }
    const tables = [...new Set(r.differences.map((d) => d.table))]
    io.err(`verify: ${r.differences.length} difference(s) in ${tables.join(', ')} against a rebuild up to position ${at}\n`)
    return 1
  } catch (e) {
    return failed(io, 'verify', e)
  }
}
