// `npm run console:size`: the gzip size of every JavaScript file of the built console, summed.
// Fails (exit 1) when the sum is over the budget or when there is no build to measure.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'

const BUDGET = 80 * 1024
const dist = join(import.meta.dirname, 'dist')
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (/\.m?js$/.test(name)) files.push(p)
  }
}
try {
  walk(dist)
} catch {
  console.error('console/dist is missing: run `npm run build` first')
  process.exit(1)
}
let total = 0
for (const f of files) {
  const raw = readFileSync(f)
  const gz = gzipSync(raw, { level: 9 }).length
  total += gz
  console.log(`${relative(dist, f)}\t${raw.length} B raw\t${gz} B gzip`)
}
const kb = (n) => `${(n / 1024).toFixed(1)} kB`
console.log(`console JavaScript: ${files.length} file(s), ${kb(total)} gzip (budget ${kb(BUDGET)})`)
if (files.length === 0 || total > BUDGET) process.exit(1)
