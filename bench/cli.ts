/**
 * bench:ops' measures of the command line as people run it: `node bin/management-tokens.js` on
 * the compiled build (compileService first), each run a process of its own, timed from spawn to
 * exit.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { median } from './support.js'

/** GNU time, when installed: the child's peak memory. */
const GNU_TIME = '/usr/bin/time'

interface Run {
  readonly seconds: number
  /** The process's max RSS (0 when it could not be measured). */
  readonly maxRssMb: number
}

const runCli = (root: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> =>
  new Promise((resolve, reject) => {
    const bin = [process.execPath, join(root, 'bin', 'management-tokens.js'), ...args]
    const timed = existsSync(GNU_TIME)
    const started = performance.now()
    const p = spawn(timed ? GNU_TIME : (bin[0] as string), timed ? ['-f', 'maxrss %M', ...bin] : bin.slice(1), { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    p.stderr.on('data', (c: Buffer) => (err += c.toString()))
    p.on('error', reject)
    p.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000
      if (code !== 0) return reject(new Error(`management-tokens ${args.join(' ')} exited ${code}: ${err}`))
      const kb = Number(/maxrss (\d+)/.exec(err)?.[1] ?? 0)
      resolve({ seconds, maxRssMb: Math.round(kb / 1024) })
    })
  })

/** `management-tokens --help`, `runs` times one after the other: the median run. */
export const cliHelp = async (root: string, runs = 20): Promise<{ seconds: number; maxRssMb: number; runs: number[] }> => {
  const all: Run[] = []
  for (let i = 0; i < runs; i += 1) all.push(await runCli(root, ['--help'], process.env))
  const seconds = all.map((r) => r.seconds)
  return { seconds: median(seconds), maxRssMb: Math.max(...all.map((r) => r.maxRssMb)), runs: seconds.map((s) => Number(s.toFixed(3))) }
}

/** The whole `management-tokens rebuild` of `dataDir`: start-up, rebuild, exit. */
export const cliRebuild = (root: string, dataDir: string): Promise<Run> => runCli(root, ['rebuild'], { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
