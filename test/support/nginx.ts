/**
 * A real nginx (Debian's package; `.ci/run` installs it) on a loopback port, with a config the
 * test writes, in a temp prefix of its own: nothing of the machine's nginx is touched.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { waitFor } from './wait-for.js'

export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => {
  try {
    execFileSync(p, ['-v'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
})

/** A free loopback port (nginx needs a number in its config). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

interface Teardown {
  teardown(fn: () => unknown): void
}

/**
 * Starts nginx with `http` as the body of its http block (use `PORT` where it listens) and
 * resolves once it accepts connections. The error log is returned for diagnosis.
 */
export const startNginx = async (t: Teardown, http: (port: number) => string) => {
  if (!NGINX) throw new Error('nginx is not installed: apt-get install -y nginx')
  const prefix = mkdtempSync(join(tmpdir(), 'nginx-'))
  for (const d of ['logs', 'tmp']) mkdirSync(join(prefix, d))
  const port = await freePort()
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(
    conf,
    `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
${http(port)}
}
`,
  )
  const child: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(async () => {
    child.kill('SIGQUIT')
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))])
    if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(prefix, { recursive: true, force: true })
  })
  await waitFor(
    () =>
      new Promise<boolean>((resolve, reject) => {
        if (child.exitCode !== null) return reject(new Error(`nginx exited: ${stderr}`))
        const c = connect(port, '127.0.0.1')
        c.once('connect', () => {
          c.destroy()
          resolve(true)
        })
        c.once('error', () => resolve(false))
      }),
    { timeoutMs: 10_000, label: 'nginx listening' },
  )
  return { port, errorLog: () => readFileSync(join(prefix, 'logs', 'error.log'), 'utf8') }
}
