import type { FastifyPluginAsync } from 'fastify'
import type { Api } from '../http/context.js'
import type { ServiceDeps } from '../service.js'

/** The authorizer's HTTP surfaces (forward-auth, gateway); filled in by the authorizer issue. */
export const authorizerSurface: FastifyPluginAsync<{ deps: ServiceDeps; api?: Api }> = async () => {}
