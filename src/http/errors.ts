import type { DenialReason, DenyOf } from '../authorizer/decision.js'
import type { DomainError, DomainErrorCode, FieldErrors } from '../domain/errors.js'

/** An error with its HTTP form: `{error_message, error_code, errors}`. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly errorCode: number,
    message: string,
    readonly errors: FieldErrors = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }

  body() {
    return { error_message: this.message, error_code: this.errorCode, errors: this.errors }
  }
}

/** The one table from domain error to status and error_code. */
export const DOMAIN_STATUS: Record<DomainErrorCode, readonly [status: number, errorCode: number]> = {
  validation: [422, 119],
  'token-limit-reached': [422, 119],
  'member-limit-reached': [422, 119],
  'stack-limit-reached': [422, 119],
  'name-taken': [422, 119],
  'stack-exists': [422, 119],
  forbidden: [403, 162],
  'stack-not-found': [412, 109],
  'member-not-found': [404, 141],
  'token-not-found': [404, 141],
  'token-revoked': [404, 141],
  // Only the expiry reactor records notices; no route leads here.
  'notice-not-due': [422, 119],
  'notice-already-recorded': [409, 150],
}

export const fromDomain = (e: DomainError): HttpError => {
  const [status, code] = DOMAIN_STATUS[e.code]
  return new HttpError(status, code, e.message, e.errors ?? {})
}

/** What an answer says: `error_message` and `errors`. */
export type Words = readonly [message: string, errors: FieldErrors]
/**
 * A denial reason's answer: status, error_code, its words (the same every time, or made from the
 * denial's facts) and, for some, headers of its own as a flat `[name, value, ...]` list.
 */
export type ReasonAnswer<R extends DenialReason> = readonly [
  status: number,
  errorCode: number,
  words: Words | ((d: DenyOf<R>) => Words),
  headers?: (d: DenyOf<R>) => readonly string[],
]

/** Input quoted in a message, bounded: the message is also a header (src/authorizer/denial.ts). */
const short = (text: string) => (text.length > 200 ? `${text.slice(0, 200)}...` : text)
const refusal = (d: DenyOf<'not-judgeable' | 'method-not-allowed' | 'uri-not-canonical'>): Words => [d.refusal.refused, { [d.refusal.field]: [d.refusal.problem] }]
const NOT_VALID: Words = ['The management token is not valid: it is unknown, revoked or rotated out.', { authorization: ['is not a valid management token'] }]
const noStackWords = (message: string): Words => [message, { api_key: [message] }]
/** A request naming no stack, as every surface answers it: the management routes and the authorizer alike. */
const MISSING_API_KEY = [412, 109, noStackWords('The api_key header is missing.')] as const
const UNKNOWN_STACK = [412, 109, noStackWords('The api_key is not valid: no such stack.')] as const

/** The one table from the authorizer's denial reason (src/authorizer/decision.ts) to its answer. */
export const DENIAL_STATUS: { readonly [R in DenialReason]: ReasonAnswer<R> } = {
  'not-judgeable': [403, 162, refusal],
  'missing-api-key': MISSING_API_KEY,
  'unknown-stack': UNKNOWN_STACK,
  'missing-token': [401, 105, ['The management token is missing: send it in the authorization header.', { authorization: ['is required'] }]],
  'malformed-token': [401, 105, NOT_VALID],
  'unknown-token': [401, 105, NOT_VALID],
  'token-of-other-stack': [401, 105, ['The management token does not belong to the stack named by api_key.', { authorization: ['belongs to another stack'] }]],
  'token-rotated-out': [401, 105, ['The management token secret was rotated out and its grace period is over.', { authorization: ['was rotated out'] }]],
  'token-expired': [401, 106, (d) => [`The management token expired at ${new Date(d.expiresAt).toISOString()}.`, { authorization: ['token expired'] }]],
  'policy-lifetime': [
    401,
    106,
    (d) => [
      `The management token outlives the stack policy's maximum lifetime of ${d.maxLifetimeDays} days (max_lifetime_days); edit its expiry to comply.`,
      { authorization: [`outlives the stack policy (max_lifetime_days ${d.maxLifetimeDays})`] },
    ],
  ],
  'method-not-allowed': [403, 162, refusal],
  'uri-not-canonical': [403, 162, refusal],
  'unknown-path': [403, 162, (d) => [`No scope module covers ${d.method} ${short(d.path)}; it is denied.`, { path: ['is not a known CMA path'] }]],
  'never-allowed': [403, 162, (d) => [`Management tokens are never allowed on ${d.never}.`, { path: [`is ${d.never}`] }]],
  'module-not-in-scope': [403, 162, (d) => [`The token's scope does not allow ${d.access} on ${d.module}.`, { scope: [`lacks ${d.module} ${d.access}`] }]],
  'branch-not-in-scope': [422, 901, (d) => [`The token is not allowed on branch "${short(d.branch)}".`, { branch: ['is not in the token scope'] }]],
  'address-not-allowed': [
    403,
    162,
    (d) =>
      d.address === undefined
        ? ['The token has an IP allow-list and the client address cannot be trusted: the request is denied.', { client_address: ['is unknown'] }]
        : [`The token may not be used from ${short(d.address)}: the address is not in its allowed_ips.`, { client_address: ['is not in allowed_ips'] }],
  ],
  'rate-limited': [429, 429, (d) => [`Rate limit exceeded: the ${d.budget}'s ${d.access} budget of ${d.limit} per second is spent.`, {}], (d) => d.headers],
  'auth-rate-limited': [429, 429, ['Too many failed authentications from this address; try again later.', {}], (d) => ['retry-after', String(d.retryAfter)]],
}

export const badRequest = (message: string, errors: FieldErrors = {}) => new HttpError(400, 100, message, errors)
export const unauthorized = (message: string, errors: FieldErrors = {}) => new HttpError(401, 105, message, errors)
export const forbidden = (message: string, errors: FieldErrors = {}) => new HttpError(403, 162, message, errors)
export const notFound = (message: string, errors: FieldErrors = {}) => new HttpError(404, 141, message, errors)
export const conflict = (message: string) => new HttpError(409, 150, message, {})
const fixed = ([status, errorCode, [message, errors]]: readonly [number, number, Words]) => new HttpError(status, errorCode, message, errors)
/** The management routes' 412: the authorizer's words for the same situation (DENIAL_STATUS). */
export const noStack = { missingApiKey: () => fixed(MISSING_API_KEY), unknownStack: () => fixed(UNKNOWN_STACK) }
export const invalid = (message: string, errors: FieldErrors) => new HttpError(422, 119, message, errors)
export const unavailable = (message: string) => new HttpError(503, 503, message, {})
