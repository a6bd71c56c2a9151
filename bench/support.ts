import { once } from 'node:events'
import { createServer } from 'node:net'
import type { Policy } from '../src/domain/commands.js'

/** A port free on 127.0.0.1 at the time of asking, for a child server to listen on. */
export const freePort = async (): Promise<number> => {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const { port } = s.address() as { port: number }
  s.close()
  return port
}

/** The middle value (the upper one of an even count). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

/**
 * The limits a history is seeded under: the configuration's defaults, what `management-tokens
 * seed` uses without variables (bench:ops seeds through it), so every bench's history obeys the
 * limits the service enforces by default. Imported when asked, not when a bench starts a server.
 */
export const defaultPolicy = async (): Promise<Policy> => {
  const { loadConfig } = await import('../src/config.js')
  const { policyOf } = await import('../src/write/policy.js')
  return policyOf(loadConfig({}))
}
