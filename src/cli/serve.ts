import type { Config } from '../config.js'
import { buildApp } from '../http/app.js'
import { resolveJwtKey } from '../http/auth.js'
import { openService } from '../service.js'

/** `management-tokens serve`: what `npm start` runs. */
export const serve = async (config: Config): Promise<void> => {
  const service = await openService(config)
  const app = await buildApp(service)
  const address = await app.listen({ port: config.port, host: config.host })
  const key = resolveJwtKey(config)
  const store = config.eventStoreUrl ?? `sqlite:${config.dataDir}/events.db`
  process.stderr.write(
    `management-tokens listening on ${address}/v3 (event store ${store.replace(/\/\/[^@/]*@/, '//***@')})\n` +
      (key.development
        ? `development authtokens: npx management-tokens authtoken --email you@example.com  (or: node bin/management-tokens.js authtoken --email you@example.com)\n`
        : ''),
  )
  let closing = false
  const shutdown = async () => {
    if (closing) return
    closing = true
    await app.close()
    await service.close()
  }
  process.once('SIGINT', () => void shutdown())
  process.once('SIGTERM', () => void shutdown())
}
