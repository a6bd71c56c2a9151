import * as E from 'fp-ts/lib/Either.js'
import type { FastifyRequest } from 'fastify'
import { type Command, TOKEN_FIELDS } from '../domain/commands.js'
import type { DomainError } from '../domain/errors.js'
import type { Queries, StackView } from '../../projections/queries.js'
import { managesStack, notManager } from '../domain/roles.js'
import type { Handled } from '../write/handle-command.js'
import type { IdempotencyMark } from '../write/idempotency.js'
import type { AppDeps } from './deps.js'
import { conflict, forbidden, fromDomain, noStack } from './errors.js'

/** What every management route shares: the instance's command handler (and its per-stack queue), queries. */
export interface Api {
  readonly deps: AppDeps
  readonly queries: Queries
  /**
   * Runs a command for the stack; a domain error or a spent retry budget is thrown as HttpError.
   * With `idempotency` (the request's Idempotency-Key), a repeat is answered from the first run.
   */
  run(apiKey: string, command: Command, req: FastifyRequest, idempotency?: IdempotencyMark): Promise<Handled>
  /** The stack named by the `api_key` header, or 412. */
  stackOf(req: FastifyRequest): StackView
  /** The caller's roles in the stack; 403 unless a member (or, with `managers`, owner/admin). */
  requireRole(stack: StackView, req: FastifyRequest, managers: boolean, action?: string): readonly string[]
  /** Set by the authorizer surface: admits a management token for the request, or throws. */
  authorizeToken?: (req: FastifyRequest) => Promise<void>
}

/** Where a command's fields sit in its request body: domain errors name them by that path. */
const BODY_ROOT: Partial<Record<Command['type'], { readonly root: string; readonly fields: ReadonlySet<string> }>> = {
  GenerateToken: { root: 'token', fields: new Set(TOKEN_FIELDS) },
  UpdateToken: { root: 'token', fields: new Set(TOKEN_FIELDS) },
  CreateStack: { root: 'stack', fields: new Set(['name', 'description']) },
}

/** `scope[0].acl` of GenerateToken is `token.scope[0].acl`, as the decoder says it (one style everywhere). */
export const inBody = (type: Command['type'], e: DomainError): DomainError => {
  const at = BODY_ROOT[type]
  if (!at || !e.errors) return e
  const path = (field: string) => (at.fields.has(field.split(/[.[]/)[0] as string) ? `${at.root}.${field}` : field)
  const errors = Object.fromEntries(Object.entries(e.errors).map(([field, messages]) => [path(field), messages]))
  const first = Object.keys(e.errors)[0] as string
  const message = e.message.startsWith(`${first}:`) ? `${path(first)}${e.message.slice(first.length)}` : e.message
  return { ...e, message, errors }
}

export const createApi = (deps: AppDeps): Api => {
  const { queries, handle } = deps
  return {
    deps,
    queries,
    async run(apiKey, command, req, idempotency) {
      const result = await handle(apiKey, command, { requestId: req.id, remoteAddr: req.ip, ...(idempotency ? { idempotency } : {}) })
      if (E.isRight(result)) return result.right
      throw result.left.code === 'conflict' ? conflict(result.left.message) : fromDomain(inBody(command.type, result.left))
    },
    stackOf(req) {
      const apiKey = req.headers.api_key
      if (typeof apiKey !== 'string' || apiKey.length === 0) throw noStack.missingApiKey()
      const stack = queries.stack(apiKey)
      if (!stack) throw noStack.unknownStack()
      return stack
    },
    requireRole(stack, req, managers, action = 'manage tokens') {
      const roles = queries.roles(stack.api_key, req.actor().email)
      if (!roles) throw forbidden('You are not a member of this stack.', { authtoken: ['is not a member of this stack'] })
      if (managers && !managesStack(roles)) throw fromDomain(notManager(action))
      return roles
    },
  }
}
