import type Database from 'better-sqlite3'
import { PROJECTIONS_MODULE, projectionsFor } from '../../projections/index.js'
import { EventDecodeError } from '../domain/decode.js'
import type { EventStore } from '../eventstore/port.js'
import { openReadModels } from '../read/files.js'
import type { Projection } from '../read/projection.js'
import { liveHeadOfFiles, rebuildFiles, verifyFiles } from '../read/rebuild-files.js'
import type { Difference } from '../read/verify.js'
import type { Io } from './io.js'
import { count, line } from './output.js'
import { progressBar } from './progress.js'
import { withConfiguredStore } from './with-store.js'

/** Why a projection is not rebuilt on the embedded store. */
export const NOT_KEPT = "on the embedded store the audit log is read from the event store's own rows: there is nothing to rebuild"

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

/**
 * Rebuilds (or with `verify` compares) `selected` in the configured data dir, of those the store
 * keeps; says so of any it does not keep that was asked for by name. The exit code.
 */
export const rebuildCommand = async (io: Io, selected: readonly Projection[], byName: boolean, verify: boolean): Promise<number> =>
  withConfiguredStore(io.env, async (store, config) => {
    const kept = projectionsFor(store)
    const db = openReadModels(config.dataDir, kept)
    try {
      const projections = selected.filter((p) => kept.includes(p))
      // Said only of a projection asked for by name; "all" means all that the store keeps.
      if (byName) for (const p of selected.filter((p) => !kept.includes(p))) io.err(`${p.name}: ${NOT_KEPT}\n`)
      if (projections.length === 0) return 0
      return await (verify ? runVerify : runRebuild)(db, store, projections, io)
    } finally {
      db.close()
    }
  })

type Runner = (db: Database.Database, store: EventStore, projections: readonly Projection[], io: Io) => Promise<number>

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
