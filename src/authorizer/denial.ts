import type { FastifyReply } from 'fastify'
import type { FieldErrors } from '../domain/errors.js'
import { DENIAL_STATUS, HttpError, type ReasonAnswer, type Words } from '../http/errors.js'
import { DENIAL_REASONS, type DenialReason, type Deny } from './decision.js'
import { recordOf } from './rate-limits.js'

/** The longest `x-mt-error-message`: far within the head a proxy reads of an auth answer (4 KiB for nginx). */
export const MAX_HEADER_MESSAGE = 300

/** Printable ASCII only (CR, LF, other controls and non-ASCII become `?`), at most MAX_HEADER_MESSAGE characters. */
export const headerText = (s: string): string => {
  const ascii = s.replace(/[^\x20-\x7e]/g, '?')
  return ascii.length > MAX_HEADER_MESSAGE ? `${ascii.slice(0, MAX_HEADER_MESSAGE - 3)}...` : ascii
}

/** JSON in printable ASCII (anything else as a `\uXXXX` escape): a header value that parses to `value`. */
export const asciiJson = (value: object): string =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

/**
 * A denial as every surface answers it, from its reason's row in DENIAL_STATUS: the status, the
 * JSON error body, and the reason's own headers followed by `x-mt-error-code` and
 * `x-mt-error-message`, so that a gateway that replaces the body (nginx `auth_request`, or one
 * that shows its own error page) can still tell the client why. The body keeps the message as it
 * is. Messages name the input at fault (method, path, branch, header), never the token secret.
 * A reason whose answer never changes has one, made once; the others are made per denial, with
 * no Error (and no stack trace) unless a surface throws one (`httpError`).
 */
export class DenialAnswer {
  /** Flat `[name, value, ...]`; shared, so a surface copies it before adding to it. */
  readonly headers: readonly string[]
  /** The body, serialized, and its length in bytes. */
  readonly text: string
  readonly contentLength: string
  private record: Record<string, string> | undefined = undefined
  private nginx: readonly string[] | undefined = undefined

  constructor(
    readonly status: number,
    readonly errorCode: number,
    readonly message: string,
    readonly errors: FieldErrors,
    own: readonly string[],
  ) {
    this.headers = [...own, 'x-mt-error-code', String(errorCode), 'x-mt-error-message', headerText(message)]
    this.text = JSON.stringify(this.body())
    this.contentLength = String(Buffer.byteLength(this.text))
  }

  body(): { error_message: string; error_code: number; errors: FieldErrors } {
    return { error_message: this.message, error_code: this.errorCode, errors: this.errors }
  }

  headerRecord(): Record<string, string> {
    return (this.record ??= recordOf(this.headers))
  }

  /** The headers with the real status and the body in `x-mt-status` and `x-mt-error-body` (nginx, forward-auth-answer.ts). */
  nginxHeaders(): readonly string[] {
    return (this.nginx ??= [...this.headers, 'x-mt-status', String(this.status), 'x-mt-error-body', asciiJson(this.body())])
  }

  /** For a surface whose error handler answers (the management API's `api.authorizeToken`). */
  httpError(): HttpError {
    return new HttpError(this.status, this.errorCode, this.message, this.errors, { ...this.headerRecord() })
  }
}

/** The table's row for a denial: the one place that lets a reason's row read that reason's facts. */
const rowOf = (d: Deny) => DENIAL_STATUS[d.reason] as unknown as ReasonAnswer<DenialReason>

const make = (d: Deny): DenialAnswer => {
  const [status, errorCode, words, headers] = rowOf(d)
  const [message, errors]: Words = typeof words === 'function' ? words(d) : words
  return new DenialAnswer(status, errorCode, message, errors, headers === undefined ? [] : headers(d))
}

/** The answers of reasons whose row has fixed words and no headers of its own. */
const FIXED = new Map<DenialReason, DenialAnswer>()
for (const reason of DENIAL_REASONS) {
  const [status, errorCode, words, headers] = DENIAL_STATUS[reason]
  if (typeof words !== 'function' && headers === undefined) FIXED.set(reason, new DenialAnswer(status, errorCode, words[0], words[1], []))
}

export const denialAnswer = (d: Deny): DenialAnswer => FIXED.get(d.reason) ?? make(d)

/** The fastify surfaces' answer (gateway, plugin): what forward-auth answers, through the reply. */
export const replyDenied = (reply: FastifyReply, d: Deny): FastifyReply => {
  const a = denialAnswer(d)
  return reply.code(a.status).headers(a.headerRecord()).send(a.body())
}
