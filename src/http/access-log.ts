import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * `debug`: the route's access lines ("incoming request", "request completed") are written at
     * debug, not info. For probes a load balancer or kubelet sends every few seconds, which would
     * otherwise fill the log at the default level. A failed response is still logged as an error.
     */
    readonly accessLog?: 'debug'
  }
}

const quiet = (request: FastifyRequest): boolean => request.routeOptions.config.accessLog === 'debug'

/** fastify's request logging (never disabled in this service), with the per-route level above. */
export class AccessLog extends LogController {
  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (quiet(request)) request.log.debug({ req: request }, 'incoming request')
    else super.incomingRequest(request, reply)
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (quiet(request) && !error) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
    else super.requestCompleted(error, request, reply)
  }
}
