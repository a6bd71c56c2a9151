#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` first; `npm start` does it). `#cli` (package.json
// `imports`) is dist's; the tests run this same file on the sources (test/support/cli-on-sources.ts).
import { run } from '#cli'

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code
  },
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
