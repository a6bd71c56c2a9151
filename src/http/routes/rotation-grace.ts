import type { FastifyPluginAsync } from 'fastify'
import * as t from 'io-ts'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { propagationSchema, tokenSchema } from '../docs.js'
import { notFound } from '../errors.js'
import { answer, idempotencyMark } from '../idempotency.js'
import { emptyBodyIsNoBody } from '../json-body.js'
import { confirmed } from '../propagation.js'
import { lastUseOnTokens } from './usage.js'

const Params = t.type({ uid: t.string })

/**
 * `DELETE /v3/stacks/management_tokens/:uid/previous_secret`: ends a running rotation grace now,
 * so the secrets rotated out stop working from the next request (RotationGraceEnded). Without a
 * grace running it is 422 naming `previous_secret`, and nothing is appended.
 */
export const rotationGraceRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries } = api
  app.addHook('preSerialization', lastUseOnTokens(api.deps.usage))
  app.delete(
    '/v3/stacks/management_tokens/:uid/previous_secret',
    {
      onRequest: emptyBodyIsNoBody,
      schema: {
        tags: ['management tokens'],
        summary: 'End the rotation grace now: the previous secret stops working',
        response: { 200: { type: 'object', properties: { notice: { type: 'string' }, token: tokenSchema, propagation: propagationSchema } } },
      },
    },
    async (req, reply) => {
      const actor = req.actor()
      const stack = api.stackOf(req)
      api.requireRole(stack, req, true)
      const { uid } = decodeOr422(Params, req.params)
      const mark = idempotencyMark(req, stack.api_key)
      const done = await api.run(stack.api_key, { type: 'EndRotationGrace', actor, token_uid: uid }, req, mark)
      const propagation = await confirmed(api.deps, done)
      return answer(reply, queries, done, 200, (q) => {
        const token = q.token(stack.api_key, uid)
        /* c8 ignore next: the command just found the token live, and the answer reads its own events */
        if (!token) throw notFound('Management token not found.', { uid: ['not found'] })
        return { notice: 'Rotation grace ended: the previous secret no longer works.', token, ...propagation }
      })
    },
  )
}
