import type { FastifyInstance } from 'fastify'
import type { Config } from '../../src/config.js'
import { type AppOptions, buildApp } from '../../src/http/app.js'
import { serviceLogger } from '../../src/logger.js'
import { buildShared, type ServiceDeps } from '../../src/service.js'

/** The subset of a tap Test used here. */
interface Teardown {
  teardown(fn: () => unknown): void
}

export interface AppOverOptions {
  /** Settings over the instance's own (an upstream, a proxy, limits). */
  readonly config?: Partial<Config>
  /** The app's logger (default none). */
  readonly logger?: AppOptions['logger']
}

/**
 * The HTTP app over an instance's opened parts (authorizerFixture's `deps`), with the command
 * handler, authorizer and queries the root builds for them as openService does. The app, then
 * the authorizer, are closed at teardown.
 */
export const appOver = async (t: Teardown, deps: ServiceDeps, o: AppOverOptions = {}): Promise<FastifyInstance> => {
  const shared = buildShared(o.config ? { ...deps, config: { ...deps.config, ...o.config } } : deps, serviceLogger('silent'))
  t.teardown(() => shared.close())
  const app = await buildApp(shared, { logger: o.logger ?? false })
  t.teardown(() => app.close())
  return app
}
