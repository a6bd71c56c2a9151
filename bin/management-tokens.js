#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` first; `npm start` does it).
import { run } from '../dist/src/cli/main.js'

run(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code
  },
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
