import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { failsChecksum, hashSecret, isSecret } from '../../domain/secret.js'
import type { AppDeps } from '../deps.js'
import { documentOnly, errorBody } from '../docs.js'
import { badRequest, HttpError, unauthorized } from '../errors.js'
import { MAX_REPORTS, reportsOf } from '../leaks/reports.js'
import type { LeakedToken, LeakRevocations } from '../leaks/revocations.js'
import { keySource, verifies } from '../leaks/signature.js'
import { storeOn } from '../people-limit.js'

/** Requests per client address per minute; GitHub batches its reports, a holder sends one. */
export const LEAK_REPORTS_PER_MINUTE = 60
/** 10,000 reports as GitHub sends them (about 300 bytes each) fit with room to spare. */
export const LEAK_BODY_LIMIT = 4 * 1024 * 1024
const ID_HEADER = 'github-public-key-identifier'
const SIGNATURE_HEADER = 'github-public-key-signature'
const RECEIVED = (n: number) => ({ notice: `${n} ${n === 1 ? 'report' : 'reports'} received.` })

/** A header sent once, or undefined. */
const single = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name]
  return typeof v === 'string' && v !== '' ? v : undefined
}

/**
 * `POST /v3/leaked-secrets`: a leaked secret revokes its token, whoever reports it. The answer
 * (202, the same body) says nothing about the secrets: known, unknown, already revoked or not a
 * secret at all look alike, and the revocations run after it is sent (leaks/revocations.ts). No
 * credentials: the secret is the proof. Limited per client address, with a body limit of its own.
 */
export const leakedSecretRoutes: FastifyPluginAsync<{ deps: AppDeps; revocations: LeakRevocations }> = async (app, { deps, revocations }) => {
  const keys = deps.config.secretScanningKeys ? keySource(deps.config.secretScanningKeys, deps.clock) : undefined
  await app.register(fastifyRateLimit, {
    max: LEAK_REPORTS_PER_MINUTE,
    timeWindow: 60_000,
    store: storeOn(deps.clock),
    keyGenerator: (req) => req.ip,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': false },
    errorResponseBuilder: (_req, { ttl }) => {
      const seconds = Math.max(1, Math.ceil(ttl / 1000))
      return new HttpError(429, 429, `Too many leaked-secret reports from this address; try again in ${seconds} s.`, { address: [`has sent more than ${LEAK_REPORTS_PER_MINUTE} reports in a minute`] }, { 'retry-after': String(seconds) })
    },
  })
  // The signature covers the exact bytes sent: keep them, and parse them here.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: LEAK_BODY_LIMIT }, (_req, body, done) => done(null, body))

  /** A signed form's signature, checked when keys are configured; a 401 otherwise. */
  const checkSignature = async (req: FastifyRequest, raw: Buffer): Promise<void> => {
    if (!keys) return
    const id = single(req, ID_HEADER)
    const signature = single(req, SIGNATURE_HEADER)
    if (id === undefined || signature === undefined)
      throw unauthorized('Reports in the secret-scanning form must be signed.', { [id === undefined ? ID_HEADER : SIGNATURE_HEADER]: ['is required (once)'] })
    if (!verifies((await keys.keysFor(id)).get(id), signature, raw))
      throw unauthorized('The report signature does not verify.', { [SIGNATURE_HEADER]: ['does not verify with the key named by Github-Public-Key-Identifier'] })
  }

  /** The token a reported secret is a live secret of (current, or rotated out and in its grace). */
  const liveOwner = (token: string, now: number) => {
    if (!isSecret(token) || failsChecksum(token)) return undefined
    const owner = deps.queries.secretOwner(hashSecret(token))
    return owner && (owner.valid_until === null || owner.valid_until > now) ? owner : undefined
  }

  app.post(
    '/v3/leaked-secrets',
    {
      schema: {
        tags: ['leaked secrets'],
        summary: 'Report leaked secrets: each live one revokes its token (GitHub secret scanning, or {token})',
        body: {
          oneOf: [
            { type: 'array', maxItems: MAX_REPORTS, items: { type: 'object', properties: { token: { type: 'string' }, type: { type: 'string' }, url: { type: 'string' }, source: { type: 'string' } }, required: ['token'] } },
            { type: 'object', properties: { token: { type: 'string' } }, required: ['token'] },
          ],
          example: [{ token: 'cs0123456789abcdef0123456789abcdef00000000', type: 'management_token', url: 'https://github.com/octo/repo/blob/abc/config.yml', source: 'content' }],
        },
        response: {
          202: { description: 'Received; the same answer whether or not a secret was known', type: 'object', properties: { notice: { type: 'string' } } },
          400: { ...errorBody, description: 'The body is not JSON' },
          401: { ...errorBody, description: 'Signed form without a verifying signature (with SECRET_SCANNING_PUBLIC_KEYS)' },
          413: { ...errorBody, description: `Body over ${LEAK_BODY_LIMIT / 1024 / 1024} MiB` },
          422: { ...errorBody, description: `A report is malformed, or more than ${MAX_REPORTS} reports` },
          429: { ...errorBody, description: `More than ${LEAK_REPORTS_PER_MINUTE} requests a minute from this address` },
          503: { ...errorBody, description: 'The key list could not be fetched; retry' },
        },
      },
      validatorCompiler: documentOnly,
    },
    async (req, reply) => {
      const raw = req.body as Buffer | undefined
      if (raw === undefined || raw.length === 0) throw badRequest('The body is empty.', { body: ['is required'] })
      let body: unknown
      try {
        body = JSON.parse(raw.toString('utf8'))
      } catch {
        throw badRequest('The body is not valid JSON.', { body: ['is not valid JSON'] })
      }
      const signedForm = Array.isArray(body)
      if (signedForm) await checkSignature(req, raw)
      const reports = reportsOf(body, signedForm && keys !== undefined)
      const now = deps.clock().getTime()
      const found = new Map<string, LeakedToken>()
      for (const { token, report } of reports) {
        const owner = liveOwner(token, now)
        if (owner && !found.has(owner.token_uid)) found.set(owner.token_uid, { apiKey: owner.api_key, tokenUid: owner.token_uid, report })
      }
      revocations.add([...found.values()], { requestId: req.id, remoteAddr: req.ip })
      return reply.code(202).send(RECEIVED(reports.length))
    },
  )
}
