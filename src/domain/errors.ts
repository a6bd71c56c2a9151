/** The closed set of domain errors; src/http/errors.ts maps each to a status and error_code once. */
export type FieldErrors = Record<string, string[]>

export type DomainErrorCode =
  | 'validation'
  | 'stack-not-found'
  | 'stack-exists'
  | 'forbidden'
  | 'member-not-found'
  | 'token-not-found'
  | 'token-revoked'
  | 'token-limit-reached'
  | 'member-limit-reached'
  | 'stack-limit-reached'
  | 'name-taken'
  | 'notice-not-due'
  | 'notice-already-recorded'

export interface DomainError {
  readonly code: DomainErrorCode
  readonly message: string
  readonly errors?: FieldErrors
}

export const domainError = (
  code: DomainErrorCode,
  message: string,
  errors?: FieldErrors,
): DomainError => (errors ? { code, message, errors } : { code, message })

export const validation = (field: string, message: string): DomainError =>
  domainError('validation', `${field}: ${message}`, { [field]: [message] })
