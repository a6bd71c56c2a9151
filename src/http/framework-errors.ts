import type { Socket } from 'node:net'
import { STATUS_CODES } from 'node:http'
import type { FastifyError } from 'fastify'
import { HttpError } from './errors.js'

/** fastify's default, made explicit: the README and the 414 message both name it. */
export const MAX_PARAM_LENGTH = 100

/**
 * Errors fastify raises before a route runs (`frameworkErrors`) or while reading a body, in the
 * `{error_message, error_code, errors}` shape. Anything not listed here is left to the caller (a
 * 500 with a request id).
 */
export const frameworkHttpError = (err: Pick<FastifyError, 'code' | 'message' | 'statusCode'>): HttpError | undefined => {
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return new HttpError(400, 100, 'The request URL is not valid.', { url: ['does not decode (malformed percent-encoding)'] })
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HttpError(414, 100, `A path parameter is longer than ${MAX_PARAM_LENGTH} characters.`, {
        url: [`a path parameter is longer than ${MAX_PARAM_LENGTH} characters`],
      })
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HttpError(400, 100, 'The request body is not valid JSON.', { body: ['is not valid JSON'] })
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HttpError(400, 100, 'Unsupported content type; send application/json.', { 'content-type': ['must be application/json'] })
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(413, 100, 'The request body is too large.', { body: ['is too large'] })
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HttpError(400, 100, 'The request body does not match its Content-Length.', { 'content-length': ['does not match the body'] })
    default:
      return undefined
  }
}

/** What Node's parser reports on a connection (`clientError`), as the status to answer. */
const CLIENT_ERRORS: Record<string, readonly [status: number, field: string, message: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers', 'are larger than the server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request', 'did not arrive in time'],
  ERR_HTTP_HEADERS_TIMEOUT: [408, 'headers', 'did not arrive in time'],
}

/**
 * fastify's `clientErrorHandler`: the request never reached fastify (headers too large,
 * unparseable, too slow), so there is no request id from the client to reuse; the body is the
 * `{error_message, error_code, errors}` shape all the same, and the connection is closed as Node
 * does.
 */
export const clientErrorHandler = (err: NodeJS.ErrnoException, socket: Socket): void => {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, field, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'request', 'is not valid HTTP']
  const body = JSON.stringify(new HttpError(status, 100, `The request ${field === 'request' ? '' : `${field} `}${message}.`, { [field]: [message] }).body())
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    )
  socket.destroy()
}
