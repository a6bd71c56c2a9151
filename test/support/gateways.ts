/**
 * The configurations of docs/gateways/, run as shipped: the tests change only the placeholder
 * ports (3000 the service, 8080 the CMA, 8000 where the gateway listens) and, for nginx,
 * Debian's paths (pid file and logs) to a temp prefix. Nothing else of the files is touched.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startNginxConf } from './nginx.js'
import { installed, startListening } from './listening-process.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const GATEWAYS_DIR = join(import.meta.dirname, '..', '..', 'docs', 'gateways')
export const shipped = (name: string): string => readFileSync(join(GATEWAYS_DIR, name), 'utf8')

export interface GatewayPorts {
  readonly service: number
  readonly upstream: number
  readonly listen: number
}

/** The placeholder ports of the shipped files, and what replaces each (docs/gateways/README.md). */
export const PLACEHOLDER_PORTS = /\b(3000|8080|8000)\b/g
export const withPorts = (text: string, ports: GatewayPorts): string =>
  text.replace(PLACEHOLDER_PORTS, (p) => String(p === '3000' ? ports.service : p === '8080' ? ports.upstream : ports.listen))

/** Debian's paths in the shipped nginx.conf that a test must not write to. */
export const NGINX_PATHS = /\/run\/nginx\.pid|\/var\/log\/nginx\//g

/** docs/gateways/nginx.conf in front of the service and the upstream. */
export const startShippedNginx = async (t: Teardown, ports: Omit<GatewayPorts, 'listen'>) =>
  startNginxConf(t, (prefix, listen) =>
    withPorts(shipped('nginx.conf'), { ...ports, listen }).replace(NGINX_PATHS, (p) => (p.endsWith('.pid') ? `${prefix}/nginx.pid` : `${prefix}/logs/`)),
  )

export const CADDY = installed(['/usr/bin/caddy', '/usr/local/bin/caddy'], ['version'])

/** docs/gateways/Caddyfile in front of the service and the upstream; its state (autosave) in a temp home. */
export const startShippedCaddy = async (t: Teardown, ports: Omit<GatewayPorts, 'listen'>) => {
  if (!CADDY) throw new Error('caddy is not installed: apt-get install -y caddy')
  const dir = mkdtempSync(join(tmpdir(), 'caddy-'))
  const listen = await freePort()
  const file = join(dir, 'Caddyfile')
  writeFileSync(file, withPorts(shipped('Caddyfile'), { ...ports, listen }))
  const env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: dir, XDG_DATA_HOME: dir }
  const args = ['run', '--config', file, '--adapter', 'caddyfile']
  const { stderr } = await startListening(t, { label: 'caddy', command: CADDY, args, port: listen, dir, env, stop: 'SIGTERM' })
  return { port: listen, log: stderr }
}

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

/** One request with Node's client (headers as given, `api_key` included), on a connection of its own. */
export const ask = (port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode as number, headers: res.headers, body: Buffer.concat(chunks).toString() }))
    })
    req.on('error', reject)
    req.end(body)
  })
