import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Redis } from 'ioredis'
import type { Registry } from 'prom-client'
import { type Config, loadConfig } from '../config.js'
import type { Module } from '../domain/scope.js'
import { type Authorizer, type AuthorizerDeps, createAuthorizer } from './decide.js'
import { replyDenied } from './denial.js'
import { inputOf } from './request-input.js'
import { redisUsageStore } from '../usage/redis-store.js'
import { sqliteUsageStore } from '../usage/sqlite-store.js'
import { openUsage, type Usage } from '../usage/usage.js'

export interface ManagementTokenIdentity {
  readonly tokenUid: string
  readonly apiKey: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The request authorizer of the management-tokens plugin. */
    managementTokens: Authorizer
  }
  interface FastifyRequest {
    /** The management token a request was admitted with (null on routes that skip the check). */
    managementToken: ManagementTokenIdentity | null
  }
  interface FastifyContextConfig {
    /** `false`: no token needed on this route; `{module}`: check this module instead of the path table. */
    managementToken?: false | { readonly module: Module }
  }
}

export interface ManagementTokensOptions {
  /** An in-process service's dependencies (read models, config, clock, metrics). */
  readonly deps?: AuthorizerDeps
  /** Or the read-model file of a running service instance, opened read-only. */
  readonly readModelPath?: string
  /** With `readModelPath`: limits, REDIS_URL, failure limit; defaults as the service's. */
  readonly config?: Partial<Config>
  readonly clock?: () => Date
  readonly metrics?: Registry
  /** Shared counters (otherwise `config.redisUrl`, otherwise in memory). */
  readonly redis?: Redis
  readonly keyPrefix?: string
  /**
   * With `readModelPath`: count usage into the service's store (Redis with `config.redisUrl`, else
   * `usage.db` beside the read-model file) as the service's own surfaces do; default true unless
   * `config.usageRecording` is false. With `deps`, `deps.usage` says where decisions are told.
   */
  readonly usage?: boolean
}

/**
 * The library surface, a fastify plugin: `app.register(managementTokens, {readModelPath})` makes every
 * route of `app` registered after it require a management token whose scope covers the route's
 * path (the CMA path table) or the module named in the route's `config.managementToken`.
 * Denials are answered here with the JSON error body, whatever the host's error handler does.
 */
const managementTokensPlugin: FastifyPluginAsync<ManagementTokensOptions> = async (app, opts) => {
  let owned: Database.Database | undefined
  let usage: Usage | undefined
  let deps = opts.deps
  if (deps === undefined) {
    if (opts.readModelPath === undefined) throw new Error('managementTokens: pass deps or readModelPath')
    owned = new Database(opts.readModelPath, { readonly: true, fileMustExist: true })
    const config = { ...loadConfig({}), ...opts.config }
    const clock = opts.clock ?? (() => new Date())
    if (opts.usage !== false && config.usageRecording)
      usage = openUsage({
        store: config.redisUrl ? redisUsageStore(config.redisUrl, config.usageRetentionDays) : sqliteUsageStore(join(dirname(opts.readModelPath), 'usage.db'), config.usageRetentionDays),
        now: opts.clock ? () => clock().getTime() : undefined,
        flushMs: config.usageFlushMs,
      })
    deps = { config, readDb: owned, clock, usage: usage?.recorder }
  }
  const metrics = opts.metrics ?? deps.metrics
  const authorizer = createAuthorizer(
    metrics ? { ...deps, metrics } : deps,
    { ...(opts.redis ? { redis: opts.redis } : {}), ...(opts.keyPrefix ? { keyPrefix: opts.keyPrefix } : {}) },
  )
  app.decorate('managementTokens', authorizer)
  app.decorateRequest('managementToken', null)
  app.addHook('onClose', async () => {
    await authorizer.close()
    await usage?.close()
    owned?.close()
  })
  app.addHook('onRequest', async (req, reply) => {
    const rule = req.routeOptions.config.managementToken
    if (rule === false) return undefined
    const d = await authorizer.authorize(inputOf(req, rule?.module))
    if (!d.allowed) return replyDenied(reply, d)
    reply.headers(d.headers)
    req.managementToken = { tokenUid: d.tokenUid, apiKey: d.apiKey }
    return undefined
  })
}

export const managementTokens = fp(managementTokensPlugin, { fastify: '5.x', name: 'management-tokens' })
export default managementTokens
