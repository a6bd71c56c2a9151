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

export const badRequest = (message: string, errors: FieldErrors = {}) => new HttpError(400, 100, message, errors)
export const unauthorized = (message: string, errors: FieldErrors = {}) => new HttpError(401, 105, message, errors)
export const expired = (message: string) => new HttpError(401, 106, message, { authorization: ['token expired'] })
export const forbidden = (message: string, errors: FieldErrors = {}) => new HttpError(403, 162, message, errors)
export const notFound = (message: string, errors: FieldErrors = {}) => new HttpError(404, 141, message, errors)
export const conflict = (message: string) => new HttpError(409, 150, message, {})
export const noStack = (message: string) => new HttpError(412, 109, message, { api_key: [message] })
export const invalid = (message: string, errors: FieldErrors) => new HttpError(422, 119, message, errors)
export const branchDenied = (message: string, errors: FieldErrors = {}) => new HttpError(422, 901, message, errors)
export const tooMany = (message: string, headers: Record<string, string> = {}) =>
  new HttpError(429, 429, message, {}, headers)
export const unavailable = (message: string) => new HttpError(503, 503, message, {})
