/**
 * A real nginx (Debian's package; `.ci/run` installs it) on a loopback port, with a config the
 * test writes, in a temp prefix of its own: nothing of the machine's nginx is touched.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { installed, startListening } from './listening-process.js'

export const NGINX = installed(['/usr/sbin/nginx', '/usr/bin/nginx'], ['-v'])

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
export const startNginx = (t: Teardown, http: (port: number) => string) =>
  startNginxConf(
    t,
    (prefix, port) => `worker_processes 1;
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

/**
 * Starts nginx with a whole configuration file, `conf(prefix, port)`: `prefix` is a fresh
 * directory with `logs/` and `tmp/` in it, `port` a free one for it to listen on.
 */
export const startNginxConf = async (t: Teardown, conf: (prefix: string, port: number) => string) => {
  if (!NGINX) throw new Error('nginx is not installed: apt-get install -y nginx')
  const prefix = mkdtempSync(join(tmpdir(), 'nginx-'))
  for (const d of ['logs', 'tmp']) mkdirSync(join(prefix, d))
  const port = await freePort()
  const file = join(prefix, 'nginx.conf')
  writeFileSync(file, conf(prefix, port))
  // -e: the error log nginx writes before it has read the configuration, in the prefix too.
  const args = ['-p', prefix, '-e', join(prefix, 'logs', 'error.log'), '-c', file, '-g', 'daemon off;']
  await startListening(t, { label: 'nginx', command: NGINX, args, port, dir: prefix, stop: 'SIGQUIT' })
  return { port, errorLog: () => readFileSync(join(prefix, 'logs', 'error.log'), 'utf8') }
}
