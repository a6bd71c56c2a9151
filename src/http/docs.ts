import type { FastifySchema, FastifySchemaCompiler } from 'fastify'
import type { TokenField } from '../domain/commands.js'
import { OWNER, ROLES } from '../domain/roles.js'

/**
 * Route schemas here document the API in `/docs`; they do not validate. Requests are decoded with
 * io-ts in the handlers, so a bad field is a 422 whose `errors` name it, not Ajv's 400 (and Ajv's type
 * coercion never changes what the handler sees).
 */
export const documentOnly: FastifySchemaCompiler<unknown> = () => () => true

/** Route options that document with `schema` and leave validation to io-ts. */
export const documented = (schema: FastifySchema) => ({ schema, validatorCompiler: documentOnly })

const str = { type: 'string' } as const
const nullableStr = { type: ['string', 'null'] } as const
const int = { type: 'integer' } as const

/** The error body, for documentation: `error_message`, `error_code` and the field errors. */
export const errorBody = {
  type: 'object',
  properties: {
    error_message: str,
    error_code: int,
    errors: { type: 'object', additionalProperties: { type: 'array', items: str } },
  },
} as const

// Response schemas also serialize: `additionalProperties: true` keeps a field added to a view
// later from being dropped silently before anyone documents it.
export const rateLimitSchema = {
  type: 'object',
  properties: { read: int, write: int },
  additionalProperties: true,
} as const

export const stackSchema = {
  type: 'object',
  properties: {
    api_key: str,
    name: str,
    description: str,
    owner_uid: str,
    owner_email: str,
    master_locale: str,
    created_by: str,
    created_by_email: { ...nullableStr, description: "the email of the authtoken that created the stack (null if not recorded)" },
    updated_by: str,
    updated_by_email: { ...nullableStr, description: "the email of the authtoken that last changed the stack or its members" },
    created_at: str,
    updated_at: str,
    role: { type: 'string', enum: [OWNER, ...ROLES.map((r) => r.uid)], description: "the caller's role" },
  },
  additionalProperties: true,
} as const

export const scopeSchema = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      module: str,
      acl: { type: 'object', properties: { read: { type: 'boolean' }, write: { type: 'boolean' } } },
      branches: { type: 'array', items: str },
      branch_aliases: { type: 'array', items: str },
    },
    additionalProperties: true,
  },
} as const

/** A token as the listing and fetch return it (the CMA token object without its secret, plus `last_rotated_at`). */
/** How many live instances had applied a change that takes access away when it was answered. */
export const propagationSchema = {
  type: 'object',
  properties: { instances: { type: 'integer' }, confirmed: { type: 'integer' }, ms: { type: 'number' } },
} as const

export const tokenSchema = {
  type: 'object',
  properties: {
    uid: str,
    name: str,
    description: str,
    scope: scopeSchema,
    expires_on: nullableStr,
    rate_limit: { ...rateLimitSchema, type: ['object', 'null'], description: 'null: the plan limit' },
    is_email_notification_enabled: { type: 'boolean' },
    allowed_ips: {
      type: 'array',
      items: str,
      maxItems: 50,
      description:
        'IPv4/IPv6 addresses and CIDR ranges the token may be used from, canonical (an address bare, a range as network/prefix); empty: any address',
    },
    created_by: str,
    updated_by: str,
    created_at: str,
    updated_at: str,
    last_rotated_at: { type: ['string', 'null'], description: 'when the secret was last rotated, or null' },
    previous_secret_expires_at: { type: ['string', 'null'], description: 'while a rotation grace runs, until when the previous secret works; else null' },
    last_used_at: { type: ['string', 'null'], description: 'the last allowed request with this token (as of the last usage flush), or null: never used' },
    last_used_from: { type: ['string', 'null'], description: 'the trusted client address of that request, or null' },
    previous_secret_last_used_at: { type: ['string', 'null'], description: 'while a rotation grace runs, the last allowed request made with the previous secret; else null' },
  } satisfies { readonly [K in TokenField]: object } & Record<string, object>,
  additionalProperties: true,
} as const

const countsSchema = {
  type: 'object',
  properties: { allowed: int, denied: int, rate_limited: int, expired: int, revoked: int },
  description: 'decisions by outcome: denied (scope, path, branch), revoked (a rotated-out secret)',
} as const

/** `GET /v3/stacks/management_tokens/:uid/usage`. */
export const usageSchema = {
  type: 'object',
  properties: {
    usage: {
      type: 'object',
      properties: {
        token_uid: str,
        from: { ...str, description: 'the start of the first bucket' },
        to: str,
        granularity: { type: 'string', enum: ['minute', 'hour', 'day'] },
        totals: countsSchema,
        series: { type: 'array', items: { type: 'object', properties: { at: { ...str, description: "the bucket's start" }, ...countsSchema.properties } } },
      },
    },
  },
} as const

/** `GET /v3/stacks/management_tokens/usage`. */
export const usageListSchema = {
  type: 'object',
  properties: {
    usage: { type: 'array', items: { type: 'object', properties: { token_uid: str, name: str, last_used_at: nullableStr, totals: countsSchema } } },
  },
} as const

export const schemaTypes = { str, nullableStr, int }
