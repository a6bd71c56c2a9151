import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import * as t from 'io-ts'
import { notPolicyOwner } from '../../domain/policy-decide.js'
import { POLICY_BOUNDS, type StackPolicy } from '../../domain/token-policy.js'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { documented } from '../docs.js'
import { exact, nullable } from '../exact.js'
import { fromDomain } from '../errors.js'
import { answer, idempotencyMark } from '../idempotency.js'

/** Each rule nullable (null: no rule); a rule left out of a PUT keeps its value. */
export const PolicyBody = exact(
  t.type({
    policy: exact(
      t.partial({
        max_lifetime_days: nullable(t.number),
        require_expiry: nullable(t.boolean),
        inactive_days: nullable(t.number),
        default_rotation_grace_seconds: nullable(t.number),
      }),
    ),
  }),
)

const rule = (bounds: readonly [number, number], description: string) => ({ type: ['integer', 'null'], minimum: bounds[0], maximum: bounds[1], description })
export const policySchema = {
  type: 'object',
  properties: {
    max_lifetime_days: rule(POLICY_BOUNDS.max_lifetime_days, 'longest a token may live, counted from its creation; a longer-lived token is refused at use until edited'),
    require_expiry: { type: ['boolean', 'null'], description: 'every token created or edited must have an expires_on' },
    inactive_days: rule(POLICY_BOUNDS.inactive_days, 'stored and validated only: no token is revoked for inactivity'),
    default_rotation_grace_seconds: rule(POLICY_BOUNDS.default_rotation_grace_seconds, 'the grace of a rotation that names none'),
  },
} as const
const answerSchema = { 200: { type: 'object', properties: { policy: policySchema } } }
const setSchema = { 200: { type: 'object', properties: { notice: { type: 'string' }, policy: policySchema } } }
const tags = ['stacks']
const path = '/v3/stacks/management_token_policy'

/** The stack's management token policy: owners and admins read it, only the owner changes it. */
export const policyRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries } = api
  const managed = (req: FastifyRequest, action: string) => {
    const stack = api.stackOf(req)
    api.requireRole(stack, req, true, action)
    return stack
  }
  app.get(path, documented({ tags, summary: "The stack's management token policy (null: no rule)", response: answerSchema }), async (req) => {
    const stack = managed(req, 'read the management token policy')
    return { policy: queries.policy(stack.api_key) }
  })
  app.put(
    path,
    { config: { body: PolicyBody }, ...documented({ tags, summary: 'Set the token policy (owner only); a rule left out is unchanged', body: { type: 'object', properties: { policy: policySchema } }, response: setSchema }) },
    async (req, reply) => {
      const actor = req.actor()
      const stack = managed(req, 'change the management token policy')
      // An admin learns that only the owner may, before any word about the body; the command checks it again.
      if (stack.owner_email !== actor.email) throw fromDomain(notPolicyOwner)
      const mark = idempotencyMark(req, stack.api_key)
      const { policy } = decodeOr422(PolicyBody, req.body)
      const done = await api.run(stack.api_key, { type: 'SetPolicy', actor, policy: policy as Partial<StackPolicy> }, req, mark)
      return answer(reply, queries, done, 200, (q) => ({ notice: 'Management token policy updated successfully.', policy: q.policy(stack.api_key) }))
    },
  )
}
