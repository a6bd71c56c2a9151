import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import * as t from 'io-ts'
import { canonicalEmail, emailProblem } from '../../domain/email.js'
import type { FieldErrors } from '../../domain/errors.js'
import { PlainText } from '../../domain/plain-text.js'
import { OWNER, ROLES } from '../../domain/roles.js'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { documented, schemaTypes } from '../docs.js'
import { invalid } from '../errors.js'
import { exact } from '../exact.js'
import { answer, idempotencyMark } from '../idempotency.js'

export const RolesBody = exact(t.type({ users: t.record(t.string, t.array(PlainText)) }))

/** As sharing does: every key checked as typed, so a look-alike of a member's address is refused, not folded onto theirs. */
const checkKeysAsTyped = (users: Record<string, unknown>): void => {
  const errors: FieldErrors = {}
  for (const key of Object.keys(users)) {
    const problem = emailProblem(key)
    if (problem !== undefined) errors[`users.${key}`] = [problem]
  }
  const first = Object.keys(errors)[0]
  if (first !== undefined) throw invalid(`${first}: ${errors[first]?.[0]}`, errors)
}

const tags = ['stacks']
const roleList = { type: 'array', items: { type: 'string', enum: ROLES.map((r) => r.uid) } } as const
const schema = {
  tags,
  summary: "Replace members' roles (never the owner's); one MemberRoleChanged per member whose roles change",
  response: {
    200: {
      type: 'object',
      properties: {
        notice: schemaTypes.str,
        users: { type: 'object', additionalProperties: roleList, description: 'each listed member and their roles now' },
      },
    },
  },
}

/** Members' roles: PUT as documented, and POST, which is how the CMA SDK's `updateUsersRoles` sends it. */
export const memberRoleRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries } = api
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const actor = req.actor()
    const stack = api.stackOf(req)
    const mark = idempotencyMark(req, stack.api_key)
    const body = decodeOr422(RolesBody, req.body)
    checkKeysAsTyped(body.users)
    const users = Object.entries(body.users).map(([email, roles]) => ({ email, roles }))
    const done = await api.run(stack.api_key, { type: 'ChangeRoles', actor, users }, req, mark)
    return answer(reply, queries, done, 200, (q) => {
      const now = new Map(q.members(stack.api_key).map((m) => [m.email, m.roles]))
      return {
        notice: 'The roles have been successfully updated.',
        users: Object.fromEntries(users.map(({ email }) => [canonicalEmail(email), (now.get(canonicalEmail(email)) ?? []).filter((r) => r !== OWNER)])),
      }
    })
  }
  app.put('/v3/stacks/users/roles', { config: { body: RolesBody }, ...documented(schema) }, handler)
  app.post('/v3/stacks/users/roles', { config: { body: RolesBody }, ...documented({ ...schema, summary: 'The same as PUT, as the CMA SDK sends it' }) }, handler)
}
