import { createHash } from 'node:crypto'
import type Database from 'better-sqlite3'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { canonical } from '../domain/rules.js'
import { invalid } from './errors.js'

const TTL_MS = 24 * 3600 * 1000

export interface Reply {
  readonly status: number
  readonly body: Record<string, unknown>
}

/** Strips what must never be kept or replayed: the secret (SPEC 5.2, rule 2.8). */
const withoutSecret = (body: Record<string, unknown>): Record<string, unknown> => {
  const token = body.token
  if (!token || typeof token !== 'object') return body
  const { token: _secret, ...rest } = token as Record<string, unknown>
  return { ...body, token: rest }
}

/**
 * `Idempotency-Key` on POST: kept per stack and caller for 24 h in this instance's local
 * database. Requests with the same key from this instance wait for the first to finish.
 */
export const createIdempotency = (db: Database.Database, clock: () => Date) => {
  db.exec(`CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL, key TEXT NOT NULL, body_hash TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (scope, key)) WITHOUT ROWID`)
  const find = db.prepare<[string, string], { body_hash: string; status: number; response: string; created_at: number }>(
    'SELECT body_hash, status, response, created_at FROM idempotency_keys WHERE scope = ? AND key = ?',
  )
  const save = db.prepare('INSERT OR REPLACE INTO idempotency_keys VALUES (?, ?, ?, ?, ?, ?)')
  const purge = db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?')
  const inFlight = new Map<string, Promise<unknown>>()

  return async (req: FastifyRequest, reply: FastifyReply, stack: string, work: () => Promise<Reply>): Promise<unknown> => {
    const key = req.headers['idempotency-key']
    if (typeof key !== 'string' || key.length === 0) {
      const r = await work()
      return reply.code(r.status).send(r.body)
    }
    if (key.length > 255) throw invalid('Idempotency-Key: must be at most 255 characters', { 'Idempotency-Key': ['must be at most 255 characters'] })
    const scope = `${stack}\u0000${req.actor().uid}`
    const slot = `${scope}\u0000${key}`
    const bodyHash = createHash('sha256').update(canonical(req.body ?? null)).digest('hex')
    for (let pending = inFlight.get(slot); pending; pending = inFlight.get(slot)) await pending.catch(() => undefined)
    const now = clock().getTime()
    purge.run(now - TTL_MS)
    const seen = find.get(scope, key)
    if (seen) {
      if (seen.body_hash !== bodyHash)
        throw invalid('Idempotency-Key was already used with a different request body.', {
          'Idempotency-Key': ['was used with a different body'],
        })
      return reply.code(seen.status).header('idempotent-replayed', 'true').send(JSON.parse(seen.response))
    }
    const running = work()
    inFlight.set(slot, running)
    try {
      const r = await running
      save.run(scope, key, bodyHash, r.status, JSON.stringify(withoutSecret(r.body)), now)
      return reply.code(r.status).send(r.body)
    } finally {
      inFlight.delete(slot)
    }
  }
}

export type Idempotency = ReturnType<typeof createIdempotency>
