import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino, type DestinationStream, type Logger } from 'pino'

export const SERVICE = 'management-tokens'

/** This package's version, from its package.json above src/ (sources) or dist/src/ (built). */
export const VERSION = ((): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
    if (pkg.name === SERVICE && pkg.version) return pkg.version
  }
  /* c8 ignore next */
  return 'unknown'
})()

/** Never logged: secrets and identity headers. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.authtoken',
  'req.headers["x-forwarded-authorization"]',
  'headers.authorization',
  'headers.authtoken',
  'token.token',
  '*.secret',
]

/**
 * The service's one logger: every line names the service and its version, so lines from several
 * deployments in one log store can be told apart (pid and hostname are kept).
 */
export const serviceLogger = (level: string, destination?: DestinationStream): Logger => {
  const options = { level, redact: REDACT, base: { pid: process.pid, hostname: hostname(), service: SERVICE, version: VERSION } }
  return destination ? pino(options, destination) : pino(options)
}
