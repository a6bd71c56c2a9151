import { Allowed, type Decision } from './decision.js'
import { denialAnswer } from './denial.js'

export { asciiJson } from './denial.js'

/** Envoy ext_authz HTTP: set `http_service.path_prefix` to this; the original path follows it. */
export const ENVOY_PREFIX = '/v3/authorize/envoy'

/** A forward-auth response, headers as a flat `[name, value, ...]` list (`x-request-id` aside). */
export interface Answer {
  readonly status: number
  readonly headers: string[]
  readonly body: string | undefined
}

const JSON_TYPE = 'application/json; charset=utf-8'

/** A header record as the start of a flat `[name, value, ...]` list. */
const flat = (record: Record<string, string>): string[] => {
  const headers: string[] = []
  for (const name in record) headers.push(name, record[name] as string)
  return headers
}

/**
 * Forward-auth's answer: 200 with the rate-limit headers, `x-token-uid` and `x-stack-api-key`, or
 * the denial's answer from the reasons' table (denial.ts): its status, JSON error body and headers. With
 * `rateLimitAs403` (nginx: `auth_request` passes 401 and 403 and turns any other status into a 500)
 * a denial of another status (412, 422, 429) is answered 403; every denial then also carries its
 * real status in `x-mt-status` and its body in `x-mt-error-body`, so that nginx can give the client
 * the status, headers and body the service meant (docs/gateways/nginx.conf). The one place both the
 * fastify routes and the fast path (fast-path.ts) build their answer, content-type and
 * content-length included.
 */
export const answerOf = (d: Decision, rateLimitAs403: boolean): Answer => {
  if (!d.allowed) {
    const a = denialAnswer(d)
    const headers = rateLimitAs403 ? a.nginxHeaders().slice() : a.headers.slice()
    headers.push('content-type', JSON_TYPE, 'content-length', a.contentLength)
    return { status: rateLimitAs403 && a.status !== 401 ? 403 : a.status, headers, body: a.text }
  }
  const headers = d instanceof Allowed ? d.flatHeaders() : flat(d.headers)
  headers.push('x-token-uid', d.tokenUid, 'x-stack-api-key', d.apiKey, 'content-length', '0')
  return { status: 200, headers, body: undefined }
}

/** A JSON body with the content-type and content-length fastify gives a serialized object. */
export const jsonAnswer = (status: number, extra: Record<string, string>, body: object): Answer => {
  const text = JSON.stringify(body)
  const headers = flat(extra)
  headers.push('content-type', JSON_TYPE, 'content-length', String(Buffer.byteLength(text)))
  return { status, headers, body: text }
}
