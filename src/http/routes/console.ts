import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyHelmet from '@fastify/helmet'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { notFound } from '../errors.js'
import { consoleAuthRoutes, type ConsoleAuthOptions } from './console-auth.js'

/** The repository (or installed package) root: the nearest folder above this module with a package.json. */
const packageRoot = (): string => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
}

/** Where `npm run build` puts the console (Vite's output). */
export const defaultConsoleDir = (): string => join(packageRoot(), 'console', 'dist')

/**
 * The console's Content Security Policy: everything from this origin only, no inline script or
 * style, never framed. `data:` images are allowed for Vite's inlined small assets.
 */
export const CONSOLE_CSP = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head>
<body><h1>The console is not built</h1>
<p>Run <code>npm run build</code> (or <code>npm start</code>, which builds first), then restart the service.</p>
</body></html>
`

/** A client route of the single-page app (no file extension, not sign-in plumbing): answered with index.html. */
const isClientRoute = (req: FastifyRequest): boolean => {
  const path = req.url.split('?')[0] as string
  return (req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/console/auth/') && !/\.[^/]*$/.test(path)
}

export interface ConsoleOptions extends ConsoleAuthOptions {
  /** The built console (default `console/dist` in the package). */
  readonly consoleDir?: string | undefined
}

/**
 * The web console (issue 12) at /console/: its files, its sign-in routes, and security headers
 * with a strict CSP on all of them. Encapsulated: helmet's headers stay off /v3, /docs and the rest.
 */
export const consoleRoutes: FastifyPluginAsync<ConsoleOptions> = async (app, options) => {
  const dir = options.consoleDir ?? defaultConsoleDir()
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONSOLE_CSP },
    // Sign-in redirects to the identity provider: the console shares no window with it.
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
  })
  await app.register(consoleAuthRoutes, options)

  app.get('/console', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/console/', 301))

  const json404 = (req: FastifyRequest, reply: FastifyReply) => {
    const e = notFound(`No route for ${req.method} ${req.url.split('?')[0]}.`)
    return reply.code(e.statusCode).send(e.body())
  }

  // A child with its own prefix, so that its not-found handler covers /console/* only.
  await app.register(
    async (files) => {
      if (!existsSync(join(dir, 'index.html'))) {
        files.get('/*', { schema: { hide: true } }, async (req, reply) =>
          isClientRoute(req) || req.url.startsWith('/console/assets/')
            ? reply.code(503).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT)
            : json404(req, reply),
        )
        return
      }
      await files.register(fastifyStatic, {
        root: dir,
        prefix: '/',
        index: ['index.html'],
        cacheControl: false,
        // Vite names assets by content hash: they never change. index.html must be revalidated.
        setHeaders: (reply, path) =>
          void reply.header('cache-control', path.startsWith(join(dir, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache'),
      })
      files.setNotFoundHandler((req, reply) =>
        isClientRoute(req) ? reply.header('cache-control', 'no-cache').sendFile('index.html', dir) : json404(req, reply),
      )
    },
    { prefix: '/console' },
  )
}
