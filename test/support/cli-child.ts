/**
 * `management-tokens <args>` in a child process, on the sources: what an operator's terminal
 * receives is the child's real stdout (process.stdout, not a test's captured Io).
 */
import { run } from '../../src/cli/main.js'

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
