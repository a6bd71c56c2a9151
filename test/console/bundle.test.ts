import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { ensureConsoleBuilt, plainEnv, startConsoleServer } from '../support/console.js'

const ROOT = join(import.meta.dirname, '..', '..')

t.test('the built console: JavaScript under 80 kB gzip, no inline script, a strict CSP', async (t) => {
  await ensureConsoleBuilt()
  const out = execFileSync(process.execPath, [join(ROOT, 'console', 'size.mjs')], { encoding: 'utf8', env: plainEnv() })
  const m = /console JavaScript: (\d+) file\(s\), ([\d.]+) kB gzip/.exec(out)
  t.ok(m, out)
  const kb = Number(m?.[2])
  t.ok(Number(m?.[1]) >= 1, 'at least one JavaScript file measured')
  t.ok(kb > 0 && kb < 80, `${kb} kB gzip is under 80 kB`)
  t.comment(out.trim().split('\n').pop() ?? '')

  const html = readFileSync(join(ROOT, 'console', 'dist', 'index.html'), 'utf8')
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
  t.ok(scripts.length >= 1, 'index.html loads a script')
  for (const [, attrs, body] of scripts) {
    t.match(attrs, /\bsrc="\/console\/assets\/[^"]+\.js"/, 'each script is a file under /console/assets')
    t.equal(body?.trim(), '', 'and has no inline code')
  }
  t.notMatch(html, /\sstyle=|\son[a-z]+=/i, 'no inline style or event handler attributes')
  t.notMatch(html, /https?:\/\//, 'no other host is named')

  const server = await startConsoleServer(t)
  const res = await fetch(server.url)
  t.equal(res.status, 200)
  const csp = res.headers.get('content-security-policy') ?? ''
  t.match(csp, /default-src 'self'/)
  t.match(csp, /script-src 'self'(;|$)/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval/, 'no unsafe sources')
  t.equal(await res.text(), html, 'the service serves the built index.html')
})
