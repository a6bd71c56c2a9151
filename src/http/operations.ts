import type { FastifySchema } from 'fastify'
import { errorBody } from './docs.js'

/**
 * Who may call each operation, its success status and a request body that its codec accepts: what
 * /docs shows beside each route, so that Authorize and "Try it out" work as documented. A test
 * checks every entry against the running routes (credentials refused without them, the example
 * accepted by the route's codec), so this table cannot drift from what the routes do.
 */
export type Access =
  /** No credentials: health, metrics, the console's own sign-in routes. */
  | 'public'
  /** A person's authtoken; the stack's api_key optional (`GET /v3/stacks` lists every stack without it). */
  | 'person'
  /** A person's authtoken and the stack's api_key. */
  | 'person-on-stack'
  /** What a gateway forwards: the management token (`authorization`) and the stack's api_key. */
  | 'token-on-stack'

export interface Operation {
  readonly access: Access
  readonly status?: 201
  readonly example?: unknown
}

const SECURITY: Record<Access, ReadonlyArray<Record<string, string[]>>> = {
  public: [],
  person: [{ authtoken: [], api_key: [] }, { authtoken: [] }],
  'person-on-stack': [{ authtoken: [], api_key: [] }],
  'token-on-stack': [{ management_token: [], api_key: [] }],
}

const READ_ENTRIES = [{ module: 'entry', acl: { read: true, write: false } }]

/**
 * Operations by `METHOD /url` (fastify's url, `:param` form). Any other /v3 route is the
 * authorizer's (forward-auth, Envoy, the gateway's proxy), which takes a management token; the
 * rest (health, metrics, the console's sign-in) is public.
 */
export const OPERATIONS: Readonly<Record<string, Operation>> = {
  'POST /v3/stacks': { access: 'person', status: 201, example: { stack: { name: 'Marketing site', description: 'Public website content' } } },
  'GET /v3/stacks': { access: 'person' },
  'POST /v3/stacks/share': {
    access: 'person-on-stack',
    example: { emails: ['editor@example.com'], roles: { 'editor@example.com': ['developer'] } },
  },
  'POST /v3/stacks/unshare': { access: 'person-on-stack', example: { email: 'editor@example.com' } },
  'POST /v3/stacks/transfer_ownership': { access: 'person-on-stack', example: { transfer_to: 'editor@example.com' } },
  'GET /v3/roles': { access: 'person-on-stack' },
  'GET /v3/stacks/members': { access: 'person-on-stack' },
  'PUT /v3/stacks/users/roles': { access: 'person-on-stack', example: { users: { 'editor@example.com': ['content_manager'] } } },
  'POST /v3/stacks/users/roles': { access: 'person-on-stack', example: { users: { 'editor@example.com': ['content_manager'] } } },
  'POST /v3/stacks/management_tokens': {
    access: 'person-on-stack',
    status: 201,
    example: {
      token: {
        name: 'Nightly import',
        description: 'Reads entries for the search index',
        scope: READ_ENTRIES,
        expires_on: null,
        rate_limit: { read: 5, write: 1 },
      },
    },
  },
  'GET /v3/stacks/management_tokens': { access: 'person-on-stack' },
  'GET /v3/stacks/management_tokens/:uid': { access: 'person-on-stack' },
  'GET /v3/stacks/management_tokens/usage': { access: 'person-on-stack' },
  'GET /v3/stacks/management_tokens/:uid/usage': { access: 'person-on-stack' },
  'PUT /v3/stacks/management_tokens/:uid': { access: 'person-on-stack', example: { token: { name: 'Nightly import (search)', scope: READ_ENTRIES } } },
  'DELETE /v3/stacks/management_tokens/:uid': { access: 'person-on-stack' },
  'POST /v3/stacks/management_tokens/:uid/rotate': { access: 'person-on-stack', example: { previous_expires_in_seconds: 86400 } },
  'DELETE /v3/stacks/management_tokens/:uid/previous_secret': { access: 'person-on-stack' },
  'GET /v3/stacks/management_token_policy': { access: 'person-on-stack' },
  'PUT /v3/stacks/management_token_policy': { access: 'person-on-stack', example: { policy: { max_lifetime_days: 90, require_expiry: true, inactive_days: null, default_rotation_grace_seconds: 86400 } } },
  'GET /v3/audit-logs': { access: 'person-on-stack' },
  'GET /v3/audit-logs/as-of': { access: 'person-on-stack' },
  'GET /v3/audit-logs/:uid': { access: 'person-on-stack' },
  // Whoever holds a secret may report it: the secret is the credential.
  'POST /v3/leaked-secrets': { access: 'public' },
}

export const operationOf = (method: string, url: string): Operation =>
  OPERATIONS[`${method} ${url}`] ?? (url.startsWith('/v3/') ? { access: 'token-on-stack' } : { access: 'public' })

/** The error statuses an operation can answer with, from what its route checks. */
const errorsOf = (url: string, op: Operation, hasBody: boolean): number[] => {
  if (op.access === 'public') return []
  const statuses = new Set([401, 422])
  if (hasBody) statuses.add(400)
  if (op.access !== 'person' || url === '/v3/stacks') statuses.add(412)
  if (op.access !== 'person') statuses.add(403)
  if (url.includes(':uid') || url.endsWith('/unshare') || url.endsWith('/transfer_ownership') || url.endsWith('/users/roles')) statuses.add(404)
  // People are limited per minute (audit and management limits), tokens by their budgets.
  statuses.add(429)
  return [...statuses].sort((a, b) => a - b)
}
const REASON: Record<number, string> = {
  400: 'Malformed request (bad JSON, wrong content type)',
  401: 'Missing, invalid or expired credentials',
  403: 'The caller may not do this on this stack',
  404: 'No such token, member or entry',
  412: 'No stack has this api_key',
  422: 'A field is invalid; `errors` names it',
  429: 'Rate limited; `Retry-After` says when to retry',
}

/**
 * The operation's schema as /docs shows it: its security, the real success status and the error
 * bodies it can answer with, its example body. Only the document changes: routes keep their own
 * schema for serialising.
 */
export const describeOperation = (method: string, url: string, schema: (FastifySchema & { body?: unknown }) | undefined = {}): FastifySchema => {
  const op = operationOf(method, url)
  const responses = { ...((schema.response as Record<string, unknown> | undefined) ?? {}) }
  if (op.status === 201) {
    responses['201'] = responses['201'] ?? responses['200'] ?? { description: 'Created', type: 'object', additionalProperties: true }
    delete responses['200']
  }
  if (!Object.keys(responses).some((s) => s.startsWith('2'))) responses['200'] = { description: 'OK', type: 'object', additionalProperties: true }
  for (const status of errorsOf(url, op, schema.body !== undefined))
    responses[String(status)] = responses[String(status)] ?? { ...errorBody, description: REASON[status] }
  const body = schema.body && op.example !== undefined ? { ...(schema.body as object), example: op.example } : schema.body
  return { ...schema, ...(body ? { body } : {}), response: responses, security: SECURITY[op.access] } as FastifySchema
}
