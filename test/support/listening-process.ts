/**
 * A server process a test starts (nginx, caddy): resolved once it accepts connections on its
 * port, stopped at teardown with the directory it ran in removed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'
import { connect } from 'node:net'
import { waitFor } from './wait-for.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

/** The first of `paths` that runs with `args` (a version flag), or undefined: the package is not installed. */
export const installed = (paths: readonly string[], args: readonly string[]): string | undefined =>
  paths.find((p) => {
    try {
      execFileSync(p, args, { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  })

export interface ListeningProcess {
  readonly label: string
  readonly command: string
  readonly args: readonly string[]
  readonly port: number
  /** Removed once the process has stopped. */
  readonly dir: string
  readonly env?: NodeJS.ProcessEnv
  /** The signal that stops it gracefully (nginx: SIGQUIT). */
  readonly stop: NodeJS.Signals
}

/** Starts the process; resolves with what it wrote to stderr so far (for diagnosis) once its port accepts connections. */
export const startListening = async (t: Teardown, p: ListeningProcess): Promise<{ stderr: () => string }> => {
  const child: ChildProcess = spawn(p.command, p.args, { stdio: ['ignore', 'ignore', 'pipe'], env: p.env ?? process.env })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    child.kill(p.stop)
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))])
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    rmSync(p.dir, { recursive: true, force: true })
  })
  await waitFor(
    () =>
      new Promise<boolean>((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`${p.label} exited: ${stderr}`))
        const c = connect(p.port, '127.0.0.1')
        c.once('connect', () => {
          c.destroy()
          resolve(true)
        })
        c.once('error', () => resolve(false))
      }),
    { timeoutMs: 10_000, label: `${p.label} listening` },
  )
  return { stderr: () => stderr }
}
