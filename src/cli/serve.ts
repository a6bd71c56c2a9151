import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { resolveJwtKey } from '../http/auth.js'
import { consoleUrl, signInMode } from '../http/sign-in.js'
import { serviceLogger } from '../logger.js'
import { openApp } from '../service.js'

export interface Server {
  readonly app: FastifyInstance
  readonly address: string
  /** Where expiry notices and webhooks go (for the start-up message). */
  readonly notifications: string
  close(): Promise<void>
}

/** Opens the store and read models, builds the app and listens; `close` undoes all of it. */
export const startServer = async (config: Config, logger: Logger = serviceLogger(config.logLevel)): Promise<Server> => {
  const running = await openApp(config, { logger })
  let address: string
  try {
    address = await running.app.listen({ port: config.port, host: config.host })
  } catch (e) {
    await running.close()
    throw e
  }
  let closing: Promise<void> | undefined
  return {
    app: running.app,
    address,
    notifications: running.service.notifications.summary,
    close: () => (closing ??= running.close()),
  }
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)

/**
 * The command that mints an authtoken this server accepts: the development secret lives in
 * DATA_DIR, so the command names the same folder (absolute, so it works from any directory).
 */
export const authtokenHint = (config: Config): string =>
  `DATA_DIR=${shellQuote(resolve(config.dataDir))} node ${shellQuote(BIN)} authtoken --email you@example.com`

/** bin/management-tokens.js of this package, from src/cli (tests) or dist/src/cli (built). */
const BIN = ((): string => {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const bin = join(dir, 'bin', 'management-tokens.js')
    if (existsSync(bin)) return bin
  }
  /* c8 ignore next */
  return 'bin/management-tokens.js'
})()

/** `management-tokens serve`: what `npm start` runs; stops cleanly on SIGINT or SIGTERM. */
export const serve = async (config: Config, say: (s: string) => void): Promise<Server> => {
  const server = await startServer(config)
  const store = config.eventStoreUrl ?? `sqlite:${config.dataDir}/events.db`
  say(
    `management-tokens listening on ${server.address}/v3 (event store ${store.replace(/\/\/[^@/]*@/, '//***@')})\n` +
      `console: ${consoleUrl(config, server.address)} (sign-in: ${signInMode(config)})\n` +
      `${server.notifications}\n` +
      (resolveJwtKey(config)?.development ? `development authtokens: ${authtokenHint(config)}\n` : ''),
  )
  const close = () => {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    return server.close()
  }
  const stop = () => void close()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  return { ...server, close }
}
