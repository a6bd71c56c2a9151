/**
 * `management-tokens` in a child process, as bin/management-tokens.js runs it but on the sources
 * (no build needed): the exit code and stderr are the real executable's.
 */
import { run } from '../../src/cli/main.js'

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code
  },
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
