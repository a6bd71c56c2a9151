import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type * as t from 'io-ts'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import { type ErrorAnswer, fastPathServer } from '../authorizer/fast-path.js'
import { authorizerSurface } from '../authorizer/index.js'
import { trustFunction } from '../authorizer/request-input.js'
import { EventStoreUnavailable } from '../eventstore/port.js'
import { serviceLogger, VERSION } from '../logger.js'
import { AccessLog } from './access-log.js'
import { authtoken, resolveJwtKey } from './auth.js'
import { createApi } from './context.js'
import type { AppDeps } from './deps.js'
import { HttpError, notFound, unavailable } from './errors.js'
import { describeOperation } from './operations.js'
import { jsonSchemaOf } from './json-schema.js'
import { peopleLimit } from './people-limit.js'
import { requestIdFrom, requestIdOf } from './request-id.js'
import { requestMetrics } from './request-metrics.js'
import { clientErrorHandler, frameworkHttpError, MAX_PARAM_LENGTH } from './framework-errors.js'
import { auditRoutes } from './routes/audit.js'
import { consoleRoutes } from './routes/console.js'
import { healthRoutes } from './routes/health.js'
import { leakedSecretRoutes } from './routes/leaked-secrets.js'
import { LeakRevocations } from './leaks/revocations.js'
import { stackRoutes } from './routes/stacks.js'
import { rotationGraceRoutes } from './routes/rotation-grace.js'
import { tokenRoutes } from './routes/tokens.js'
import { usageRoutes } from './routes/usage.js'
import { userSessionRoute } from './routes/user-session.js'
import { signInOf } from './sign-in.js'

export interface AppOptions {
  /** A pino logger config or instance (tests pass a stream to capture logs). */
  readonly logger?: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance']
  /** The built console (default `console/dist` in the package). */
  readonly consoleDir?: string
  /** Least time between two refetches of the identity provider's key set for an unknown `kid` (default 30 s). */
  readonly jwksCooldownMs?: number
}

const toHttpError = (err: unknown): HttpError | undefined => {
  if (err instanceof HttpError) return err
  if (err instanceof EventStoreUnavailable) return unavailable('The event store is unavailable; try again shortly.')
  const e = err as { code?: string; statusCode?: number; message?: string }
  const framework = frameworkHttpError({ code: e.code ?? '', message: e.message ?? '', statusCode: e.statusCode })
  if (framework) return framework
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return new HttpError(e.statusCode, e.statusCode === 429 ? 429 : 100, e.message ?? 'Bad request.', { request: [e.message ?? 'is not valid'] })
  return undefined
}

/** The error handler's answer, also given to the forward-auth fast path. */
export const errorAnswer = (err: unknown, requestId: string): ErrorAnswer => {
  const known = toHttpError(err)
  if (known)
    return {
      statusCode: known.statusCode,
      headers: known.headers,
      body: known.body(),
      ...(known.statusCode >= 500 ? { log: { level: 'warn', message: known.message } } : {}),
    }
  return {
    statusCode: 500,
    headers: {},
    body: { error_message: `Internal error; quote request id ${requestId}.`, error_code: 500, errors: {}, request_id: requestId },
    log: { level: 'error', message: 'internal error' },
  }
}

/**
 * Registers plugins and routes over what the composition root built (src/service.ts); never
 * listens (the CLI's `serve` does) and closes nothing it was given.
 */
export const buildApp = async (deps: AppDeps, options: AppOptions = {}): Promise<FastifyInstance> => {
  const logger = options.logger ?? serviceLogger(deps.config.logLevel)
  // Fastify's own HTTP server, with a slot in front for forward-auth's fast path.
  const server = fastPathServer()
  const app = Fastify({
    ...(logger && typeof (logger as { child?: unknown }).child === 'function'
      ? { loggerInstance: logger as FastifyServerOptions['loggerInstance'] }
      : { logger: logger as FastifyServerOptions['logger'] }),
    serverFactory: server.serverFactory,
    genReqId: requestIdOf,
    // Health probes' access lines at debug (routes with `config.accessLog`).
    logController: new AccessLog(),
    // TRUST_PROXY: by default no proxy is trusted and the socket's address is the client.
    trustProxy: trustFunction(deps.config.trustProxy),
    bodyLimit: 256 * 1024,
    // A client that sends its request slowly, or never finishes it, or keeps an idle connection,
    // is cut off (Node's defaults would let a body that never arrives hold a connection forever).
    requestTimeout: deps.config.requestTimeoutMs,
    keepAliveTimeout: deps.config.requestTimeoutMs,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors raised before routing (a URL that does not decode, a parameter too long) never reach
    // the error handler: answer them here, in the same shape.
    frameworkErrors: (err, req, reply) => {
      const a = errorAnswer(err, req.id)
      if (a.log) req.log[a.log.level]({ err }, a.log.message)
      // The onSend hook below is not run for these replies: name the request id here.
      return (reply as FastifyReply).code(a.statusCode).headers({ ...a.headers, 'x-request-id': req.id }).send(a.body)
    },
    // Errors Node's parser raises before there is a request (431 headers too large, 408, 400).
    clientErrorHandler,
  })

  app.setErrorHandler((err, req, reply) => {
    const a = errorAnswer(err, req.id)
    if (a.log) req.log[a.log.level]({ err }, a.log.message)
    return reply.code(a.statusCode).headers(a.headers).send(a.body)
  })
  app.setNotFoundHandler((req, reply) => {
    const e = notFound(`No route for ${req.method} ${req.url.split('?')[0]}.`)
    return reply.code(e.statusCode).send(e.body())
  })
  // Callback style, not async: an async hook costs every response a promise and a microtask
  // turn before it is written.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id)
    done(null, payload)
  })

  await app.register(fastifySwagger, {
    // Request bodies documented from the io-ts codecs that decode them (route `config.body`).
    transform: ({ schema, url, route }) => {
      const body = (route.config as { body?: t.Mixed } | undefined)?.body
      const method = [route.method].flat()[0] as string
      return { schema: describeOperation(method, route.url, body ? { ...schema, body: jsonSchemaOf(body) } : schema), url }
    },
    openapi: {
      info: {
        title: 'Management-token service',
        version: VERSION,
        description: 'Contentstack-CMA-compatible management tokens: commands, queries and the request authorizer.',
      },
      components: {
        securitySchemes: {
          authtoken: { type: 'apiKey', in: 'header', name: 'authtoken' },
          api_key: { type: 'apiKey', in: 'header', name: 'api_key' },
          management_token: { type: 'apiKey', in: 'header', name: 'authorization' },
        },
      },
    },
  })
  // Management bodies are JSON only (a wrong content type is a 400).
  app.removeContentTypeParser('text/plain')
  const signIn = signInOf(deps.config, deps.clock, options.jwksCooldownMs)
  await app.register(authtoken, { key: resolveJwtKey(deps.config), jwks: signIn.jwks })
  const api = createApi(deps)
  // Revocations asked for by leaked-secret reports run after their answer; closing waits for them.
  const revocations = new LeakRevocations(deps.handle, deps.leakNotices, app.log)
  app.decorate('leakedSecrets', revocations)
  app.addHook('onClose', () => revocations.idle())
  // Every route but the authorizer's surfaces, in one scope whose requests are counted by route.
  await app.register(async (counted) => {
    counted.addHook('onResponse', requestMetrics(deps.metrics))
    if (signIn.developmentSecret) await counted.register(userSessionRoute, { secret: signIn.developmentSecret })
    await counted.register(consoleRoutes, { deps, mode: signIn.mode, oidc: signIn.oidc, consoleDir: options.consoleDir })
    await counted.register(healthRoutes, { api })
    // People's stack and token requests, limited per user in a scope of their own (MANAGEMENT_RATE_LIMIT).
    await counted.register(async (people) => {
      await peopleLimit(people, { max: deps.config.managementRateLimit, what: 'management', clock: deps.clock })
      await people.register(stackRoutes, { api })
      await people.register(usageRoutes, { api })
      await people.register(tokenRoutes, { api })
      await people.register(rotationGraceRoutes, { api })
    })
    await counted.register(auditRoutes, { api })
    await counted.register(leakedSecretRoutes, { deps, revocations })
    // Interactive reference at /docs (Swagger UI, its own static CSP), the raw document at /docs/json.
    await counted.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true })
  })
  // RAW_HTTP=false: no fast handler is installed, so every request is read by Node's parser and routed by fastify.
  const fastPath = deps.config.rawHttp ? { install: server.install, requestIdFrom, errorAnswer } : undefined
  await app.register(authorizerSurface, { authorizer: deps.authorizer, config: deps.config, metrics: deps.metrics, api, fastPath })
  return app
}
