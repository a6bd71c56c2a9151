import type { HttpError } from '../http/errors.js'

/** The longest `x-mt-error-message`: far within the head a proxy reads of an auth answer (4 KiB for nginx). */
export const MAX_HEADER_MESSAGE = 300

/** Printable ASCII only (CR, LF, other controls and non-ASCII become `?`), at most MAX_HEADER_MESSAGE characters. */
export const headerText = (s: string): string => {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?')
  return ascii.length > MAX_HEADER_MESSAGE ? `${ascii.slice(0, MAX_HEADER_MESSAGE - 3)}...` : ascii
}

/**
 * A denial as every surface answers it: the error with `x-mt-error-code` and `x-mt-error-message`
 * added, so that a gateway that replaces the body (nginx `auth_request`, or one that shows its own
 * error page) can still tell the client why. The body keeps the message as it is. Messages name
 * the input at fault (method, path, branch, header), never the token secret. The error is one made
 * for this denial (or once, for a constant) and is completed in place: a copy would be a second
 * Error with a second stack trace, the costliest part of building one (a 429 is built per request).
 */
export const denial = (e: HttpError): HttpError => {
  ;(e as { headers: Record<string, string> }).headers = {
    ...e.headers,
    'x-mt-error-code': String(e.errorCode),
    'x-mt-error-message': headerText(e.message),
  }
  return e
}
