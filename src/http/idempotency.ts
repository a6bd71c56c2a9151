import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { canonical } from '../domain/rules.js'
import { viewsAt } from '../../projections/views-at.js'
import type { Queries } from '../../projections/queries.js'
import type { Handled } from '../write/handle-command.js'
import type { IdempotencyMark } from '../write/idempotency.js'
import { invalid } from './errors.js'

const MAX_KEY_LENGTH = 255
const sha256 = (...parts: readonly string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex')

/**
 * The `Idempotency-Key` of a request, bound to everything that makes the request what it is:
 * the key names a slot per stack and caller; the request digest covers the method,
 * the route, its parameters and the body, so the same key on another route, another token or
 * with another body is refused (422) instead of replaying an unrelated answer.
 */
export const idempotencyMark = (req: FastifyRequest, stack: string): IdempotencyMark | undefined => {
  const key = req.headers['idempotency-key']
  if (typeof key !== 'string' || key.length === 0) return undefined
  if (key.length > MAX_KEY_LENGTH)
    throw invalid(`Idempotency-Key: must be at most ${MAX_KEY_LENGTH} characters`, {
      'Idempotency-Key': [`must be at most ${MAX_KEY_LENGTH} characters`],
    })
  return {
    key: sha256('idempotency-key', stack, req.actor().uid, key),
    request: sha256(req.method, req.routeOptions.url ?? req.url, canonical(req.params ?? {}), canonical(req.body ?? null)),
  }
}

/**
 * A new stack has no stream yet to look in: with a key, its api_key is derived from the key's
 * digest, so a retry (on any instance) lands on the same stream and finds the first attempt.
 */
export const stackKeyFor = (mark: IdempotencyMark): string => `blt${sha256('stack', mark.key).slice(0, 16)}`

/** Said in the body of a replayed create or rotate, whose secret is not kept (rule 2.8). */
export const SECRET_SHOWN_ONCE =
  'This is a replay of an earlier request with the same Idempotency-Key: the secret was shown once, in the first response, and is not kept. To get a new secret, rotate the token (POST /v3/stacks/management_tokens/:uid/rotate).'

/**
 * Answers a command: first executions from the live read models, replays from the read models as
 * they were right after the first execution's events, with `idempotent-replayed: true`.
 */
export const answer = async (
  reply: FastifyReply,
  live: Queries,
  done: Handled,
  status: number,
  body: (queries: Queries, replayed: boolean) => Record<string, unknown>,
): Promise<FastifyReply> => {
  if (!done.replayed) return reply.code(status).send(body(live, false))
  const at = await viewsAt(done.replayed)
  try {
    return reply.code(status).header('idempotent-replayed', 'true').send(body(at.queries, true))
  } finally {
    at.close()
  }
}
