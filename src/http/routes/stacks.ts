import type { FastifyPluginAsync } from 'fastify'
import * as t from 'io-ts'
import { canonicalEmail, emailProblem } from '../../domain/email.js'
import type { FieldErrors } from '../../domain/errors.js'
import { PlainText } from '../../domain/plain-text.js'
import { ROLES } from '../../domain/roles.js'
import { highestRole, type StackView } from '../../../projections/queries.js'
import type { Api } from '../context.js'
import { decodeOr422 } from '../decode.js'
import { invalid } from '../errors.js'
import { documented, rateLimitSchema, schemaTypes, stackSchema } from '../docs.js'
import { exact } from '../exact.js'
import { answer, idempotencyMark, stackKeyFor } from '../idempotency.js'
import { memberRoleRoutes } from './member-roles.js'

export const CreateStackBody = exact(
  t.type({
    stack: exact(t.intersection([t.type({ name: PlainText }), t.partial({ description: PlainText, master_locale: PlainText })])),
  }),
)
export const ShareBody = exact(
  t.intersection([t.type({ emails: t.array(PlainText) }), t.partial({ roles: t.record(t.string, t.array(PlainText)) })]),
)
export const UnshareBody = exact(t.type({ email: PlainText }))
export const TransferBody = exact(t.type({ transfer_to: PlainText }))

export const stackJson = (s: StackView) => ({
  api_key: s.api_key,
  name: s.name,
  description: s.description,
  owner_uid: s.owner_uid,
  owner_email: s.owner_email,
  master_locale: 'en-us',
  created_by: s.created_by,
  created_by_email: s.created_by_email,
  updated_by: s.updated_by,
  updated_by_email: s.updated_by_email,
  created_at: s.created_at,
  updated_at: s.updated_at,
})

const tags = ['stacks']

/**
 * Every address of a share body checked as typed, before anything is canonicalised: a roles key
 * is matched to an email by canonical form, so a look-alike key (the Kelvin sign for `k`) would
 * otherwise lend its roles to another address. One 422 names each field at fault.
 */
const checkAddressesAsTyped = (body: t.TypeOf<typeof ShareBody>): void => {
  const errors: FieldErrors = {}
  const check = (field: string, raw: string) => {
    const problem = emailProblem(raw)
    if (problem === undefined) return
    const list = (errors[field] ??= [])
    if (!list.includes(problem)) list.push(problem)
  }
  for (const email of body.emails) check('emails', email)
  for (const key of Object.keys(body.roles ?? {})) check(`roles.${key}`, key)
  const first = Object.keys(errors)[0]
  if (first !== undefined) throw invalid(`${first}: ${errors[first]?.[0]}`, errors)
}

/** Stacks, sharing, ownership and roles. */
export const stackRoutes: FastifyPluginAsync<{ api: Api }> = async (app, { api }) => {
  const { queries, deps } = api

  app.post('/v3/stacks', { config: { body: CreateStackBody }, schema: { tags, summary: 'Create a stack; the caller becomes its owner' } }, async (req, reply) => {
    const actor = req.actor()
    const mark = idempotencyMark(req, '')
    const body = decodeOr422(CreateStackBody, req.body)
    const apiKey = mark ? stackKeyFor(mark) : `blt${deps.randomBytes(8).toString('hex')}`
    const done = await api.run(apiKey, { type: 'CreateStack', actor, api_key: apiKey, name: body.stack.name, description: body.stack.description ?? '' }, req, mark)
    return answer(reply, queries, done, 201, (q) => ({ notice: 'Stack created successfully.', stack: stackJson(q.stack(apiKey) as StackView) }))
  })

  const plan = {
    rate_limit: { read: deps.config.planReadLimit, write: deps.config.planWriteLimit },
    max_tokens: deps.config.maxTokensPerStack,
  }
  app.get(
    '/v3/stacks',
    documented({
      tags,
      summary: "The stack named by api_key (with the caller's role and the plan), or without api_key every stack of the caller",
      headers: { type: 'object', properties: { api_key: { type: 'string', description: 'omit to list every stack of the caller' } } },
      response: {
        200: {
          type: 'object',
          properties: {
            stack: {
              ...stackSchema,
              properties: {
                ...stackSchema.properties,
                plan: {
                  type: 'object',
                  properties: { rate_limit: rateLimitSchema, max_tokens: schemaTypes.int },
                  description: "the plan's limits: a token's custom rate limit may not exceed them",
                },
              },
            },
            stacks: { type: 'array', items: stackSchema },
          },
        },
      },
    }),
    async (req) => {
      if (req.headers.api_key === undefined) {
        const { email } = req.actor()
        return { stacks: queries.stacksOf(email).map((s) => ({ ...stackJson(s), role: s.role })) }
      }
      const stack = api.stackOf(req)
      const roles = api.requireRole(stack, req, false)
      return { stack: { ...stackJson(stack), role: highestRole(roles), plan } }
    },
  )

  app.post('/v3/stacks/share', { config: { body: ShareBody }, schema: { tags, summary: 'Share the stack with users, with roles' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = api.stackOf(req)
    const mark = idempotencyMark(req, stack.api_key)
    const body = decodeOr422(ShareBody, req.body)
    checkAddressesAsTyped(body)
    const roles = new Map(Object.entries(body.roles ?? {}).map(([key, list]) => [canonicalEmail(key), list]))
    const members = body.emails.map((email) => ({ email, roles: roles.get(canonicalEmail(email)) ?? [] }))
    const done = await api.run(stack.api_key, { type: 'ShareStack', actor, members }, req, mark)
    return answer(reply, queries, done, 200, () => ({
      notice: 'The stack has been successfully shared.',
      shared_emails: members.map((m) => canonicalEmail(m.email)),
    }))
  })

  app.post('/v3/stacks/unshare', { config: { body: UnshareBody }, schema: { tags, summary: 'Remove a member (never the owner)' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = api.stackOf(req)
    const mark = idempotencyMark(req, stack.api_key)
    const body = decodeOr422(UnshareBody, req.body)
    const done = await api.run(stack.api_key, { type: 'UnshareStack', actor, email: body.email }, req, mark)
    return answer(reply, queries, done, 200, () => ({ notice: 'The stack has been successfully unshared.' }))
  })

  app.post('/v3/stacks/transfer_ownership', { config: { body: TransferBody }, schema: { tags, summary: 'Transfer ownership to a member' } }, async (req, reply) => {
    const actor = req.actor()
    const stack = api.stackOf(req)
    const mark = idempotencyMark(req, stack.api_key)
    const body = decodeOr422(TransferBody, req.body)
    const done = await api.run(stack.api_key, { type: 'TransferOwnership', actor, to_email: body.transfer_to }, req, mark)
    return answer(reply, queries, done, 200, () => ({ notice: 'Stack ownership transferred successfully.' }))
  })

  app.get('/v3/roles', { schema: { tags, summary: 'The built-in roles' } }, async (req) => {
    const stack = api.stackOf(req)
    api.requireRole(stack, req, false)
    return { roles: ROLES.map((r) => ({ uid: r.uid, name: r.name, stack: stack.api_key })) }
  })

  await app.register(memberRoleRoutes, { api })

  app.get('/v3/stacks/members', { schema: { tags, summary: 'Members of the stack and their roles' } }, async (req) => {
    const stack = api.stackOf(req)
    api.requireRole(stack, req, false)
    return { members: queries.members(stack.api_key) }
  })
}
