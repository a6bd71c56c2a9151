/// <reference lib="dom" />
/**
 * Browser tests of the console: the real service on an ephemeral port with the built console,
 * driven in Debian's Chromium through playwright-core (never a downloaded browser).
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { FastifyInstance } from 'fastify'
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core'
import type { Test } from 'tap'
import { testConfig, type Config } from '../../src/config.js'
import { mintAuthtoken, resolveJwtKey } from '../../src/http/auth.js'
import { openEventStore } from '../../src/eventstore/open.js'
import { openApp, type Service } from '../../src/service.js'
import { fakeClock, tempDir, type FakeClock } from './app.js'
import { plainEnv } from './plain-env.js'
import { waitFor } from './wait-for.js'

const ROOT = join(import.meta.dirname, '..', '..')
const CONSOLE = join(ROOT, 'console')
const DIST_INDEX = join(CONSOLE, 'dist', 'index.html')
/**
 * Where the suite saves a screenshot of each page: `test-results/screenshots/` (ignored by git),
 * or the README's `docs/screenshots/` with `SCREENSHOTS=docs`, so that a test run leaves the
 * work tree as it was.
 */
export const SCREENSHOTS = process.env.SCREENSHOTS === 'docs' ? join(ROOT, 'docs', 'screenshots') : join(ROOT, 'test-results', 'screenshots')

const newestMtime = (path: string): number => {
  const s = statSync(path)
  if (!s.isDirectory()) return s.mtimeMs
  return Math.max(s.mtimeMs, ...readdirSync(path).map((n) => (n === 'dist' || n === 'node_modules' ? 0 : newestMtime(join(path, n)))))
}

export { plainEnv } from './plain-env.js'

/**
 * Builds the console when console/dist is missing or older than its sources. Test files run in
 * parallel: a lock folder makes one of them build while the others wait for it (bounded).
 */
export const ensureConsoleBuilt = async (): Promise<void> => {
  const fresh = () => existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= newestMtime(CONSOLE)
  if (fresh()) return
  const lock = join(ROOT, '.console-build.lock')
  for (const deadline = Date.now() + 180_000; ; ) {
    try {
      mkdirSync(lock)
      break
    } catch {
      // A lock older than 3 minutes was left by a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 180_000) rmSync(lock, { recursive: true, force: true })
      await waitFor(() => !existsSync(lock) || Date.now() > deadline, { timeoutMs: 200_000, intervalMs: 200, label: 'the console build of another test file' })
      if (fresh()) return
      if (Date.now() > deadline) throw new Error('console build lock held too long')
    }
  }
  try {
    if (fresh()) return
    const vite = join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js')
    const r = spawnSync(process.execPath, [vite, 'build', CONSOLE, '--logLevel', 'warn'], { cwd: ROOT, encoding: 'utf8', env: plainEnv() })
    if (r.status !== 0) throw new Error(`vite build failed: ${r.stderr}${r.stdout}`)
  } finally {
    rmdirSync(lock)
  }
}

export interface ConsoleServer {
  readonly url: string
  readonly origin: string
  readonly app: FastifyInstance
  readonly service: Service
  readonly config: Config
  readonly clock: FakeClock | undefined
  /** A development authtoken for `email` (what POST /v3/user-session would give). */
  authtoken(email: string): string
  /** A /v3 call from outside the browser, as `email`. */
  api(method: string, path: string, as: string, options?: { apiKey?: string; body?: unknown }): Promise<{ status: number; body: any }>
}

export interface ServerOptions {
  readonly config?: Partial<Config>
  readonly clock?: Date
}

/** The real service (development sign-in unless `config` says otherwise) listening on port 0. */
export const startConsoleServer = async (t: Test, options: ServerOptions = {}): Promise<ConsoleServer> => {
  await ensureConsoleBuilt()
  const dataDir = tempDir(t, 'mt-console-')
  const config = testConfig({ dataDir, jwtSecret: undefined, devSignIn: true, ...options.config })
  const clock = options.clock ? fakeClock(options.clock) : undefined
  const store = await openEventStore(config.eventStoreUrl, dataDir)
  const { service, app, close } = await openApp(config, { store, ...(clock ? { clock: clock.now } : {}) }, { logger: false })
  t.teardown(close)
  const address = await app.listen({ port: 0, host: '127.0.0.1' })
  const key = resolveJwtKey(config)
  const authtoken = (email: string) => {
    if (!key || !('secret' in key)) throw new Error('no shared secret to mint with')
    return mintAuthtoken(key.secret, { email, sub: `u-${email.split('@')[0]}` })
  }
  return {
    url: `${address}/console/`,
    origin: address,
    app,
    service,
    config,
    clock,
    authtoken,
    async api(method, path, as, o = {}) {
      const res = await fetch(`${address}${path}`, {
        method,
        headers: {
          authtoken: authtoken(as),
          ...(o.apiKey ? { api_key: o.apiKey } : {}),
          ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
      })
      const text = await res.text()
      return { status: res.status, body: text ? JSON.parse(text) : undefined }
    },
  }
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** Headless Debian Chromium with a fresh profile folder, closed at teardown. */
export const launchBrowser = async (t: Test, viewport = { width: 1280, height: 900 }): Promise<BrowserContext> => {
  const profile = mkdtempSync(join(tmpdir(), 'mt-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timezoneId: 'UTC',
    locale: 'en-GB',
  })
  context.setDefaultTimeout(30_000)
  t.teardown(async () => {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  })
  return context
}

export interface ConsolePage {
  readonly page: Page
  /** Every request the page made, by URL. */
  readonly requests: string[]
  /** Uncaught errors and CSP violations seen in the page. */
  readonly problems: string[]
}

/**
 * Runs `body` in a new tab on the console, then asserts that every request the tab made went to
 * the service's origin and that no script error or CSP violation happened in it.
 */
export const inConsole = async (
  t: Test,
  context: BrowserContext,
  server: ConsoleServer,
  body: (p: ConsolePage) => Promise<void>,
  options: {
    viewport?: { width: number; height: number }
    clock?: Date
    /** Origins the tab may navigate to (the identity provider's sign-in pages): navigations only. */
    navigatesTo?: string[]
  } = {},
): Promise<void> => {
  const page = await context.newPage()
  if (options.viewport) await page.setViewportSize(options.viewport)
  // The page's Date agrees with the service's fake clock, so "expires in 12 days" is exact.
  if (options.clock) await page.clock.setFixedTime(options.clock)
  const requests: string[] = []
  const problems: string[] = []
  const allowedNavigations = options.navigatesTo ?? []
  page.on('request', (r: Request) => {
    const elsewhere = r.isNavigationRequest() && allowedNavigations.some((o) => r.url().startsWith(`${o}/`))
    if (!elsewhere) requests.push(r.url())
  })
  page.on('pageerror', (e) => void problems.push(`pageerror: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`)
  })
  try {
    await page.goto(server.url)
    await body({ page, requests, problems })
  } finally {
    await page.close()
  }
  t.ok(requests.length > 0, 'the page made requests')
  t.same(requests.filter((u) => !u.startsWith(`${server.origin}/`)), [], 'every request goes to the service origin')
  t.same(problems, [], 'no script error or CSP violation')
}

/** Everything a secret could linger in: the DOM (text and form values), storage, history, URL. */
export const pageHolds = (page: Page, needle: string) =>
  page.evaluate((s) => {
    const values = Array.from(document.querySelectorAll('input, textarea')).map((e) => (e as HTMLInputElement).value)
    return {
      dom: document.documentElement.outerHTML.includes(s) || (document.body.textContent ?? '').includes(s) || values.some((v) => v.includes(s)),
      localStorage: JSON.stringify({ ...localStorage }).includes(s),
      sessionStorage: JSON.stringify({ ...sessionStorage }).includes(s),
      history: JSON.stringify(history.state ?? null).includes(s),
      url: location.href.includes(s),
      cookie: document.cookie.includes(s),
    }
  }, needle)

/** Whether any entry of the tab's session history (read through CDP, without navigating) has `needle` in its URL or title. */
export const historyHolds = async (page: Page, needle: string): Promise<boolean> => {
  const cdp = await page.context().newCDPSession(page)
  const { entries } = (await cdp.send('Page.getNavigationHistory')) as { entries: Array<{ url: string; title: string }> }
  await cdp.detach()
  if (entries.length === 0) throw new Error('no history entries read')
  return entries.some((e) => e.url.includes(needle) || e.title.includes(needle))
}

export const NOWHERE = { dom: false, localStorage: false, sessionStorage: false, history: false, url: false, cookie: false }

/** Signs in through the development form. */
export const signIn = async (page: Page, email: string): Promise<void> => {
  await page.getByLabel('Email').fill(email)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByText(`Signed in as ${email}`).waitFor()
}

/** Axe findings of one page, kept for the suite's closing note. */
export interface AxeFinding {
  readonly page: string
  readonly violations: Array<{ id: string; impact: string | null | undefined; nodes: number }>
}

/** Runs axe-core on the page and asserts no serious or critical violation. */
export const axeScan = async (t: Test, page: Page, name: string): Promise<AxeFinding> => {
  const result = await new AxeBuilder({ page }).analyze()
  const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }))
  const bad = result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
  t.same(bad, [], `axe: no serious or critical violation on ${name}`)
  t.comment(`axe ${name}: ${violations.length === 0 ? 'no violations' : violations.map((v) => `${v.id}/${v.impact}×${v.nodes}`).join(', ')}`)
  return { page: name, violations }
}

/** Saves a full-page screenshot under SCREENSHOTS (regenerated by every run). */
export const screenshot = async (page: Page, name: string): Promise<void> => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true, animations: 'disabled' })
}

/** The page's horizontal overflow: 0 when the layout fits the viewport. */
export const horizontalOverflow = (page: Page): Promise<number> =>
  page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
