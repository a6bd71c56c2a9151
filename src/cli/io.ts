import { once } from 'node:events'

/** Where a command writes; injectable so tests capture output. */
export interface Io {
  /** Standard output. A `false` return (a stream's write) means: wait for `drain` before writing more. */
  readonly out: (s: string) => unknown
  readonly err: (s: string) => void
  readonly env: Record<string, string | undefined>
  /** Resolves once `out` accepts writes again after it returned false. */
  readonly drain?: () => Promise<void>
  /** Set only when stderr is a terminal: progress bars are drawn on it, never on a pipe or file. */
  readonly progressStream?: NodeJS.WriteStream
}

/** A reader that went away (`audit --json | head`) ends the output, not in a stack trace. */
const quietOnEpipe = (e: NodeJS.ErrnoException): void => {
  if (e.code !== 'EPIPE') throw e
  process.exit(process.exitCode ?? 0)
}

export const processIo = (): Io => {
  if (!process.stdout.listeners('error').includes(quietOnEpipe)) process.stdout.on('error', quietOnEpipe)
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    env: process.env,
    drain: async () => {
      await once(process.stdout, 'drain')
    },
    ...(process.stderr.isTTY ? { progressStream: process.stderr } : {}),
  }
}

/** What a subcommand gets: the io, and how it reports its exit code (0, 1 or 2: see main.ts). */
export interface CliContext {
  readonly io: Io
  exit(code: number): void
}
