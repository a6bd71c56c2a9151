/// <reference lib="dom" />
import t from 'tap'
import type { Page } from 'playwright-core'
import { START } from '../support/app.js'
import { axeScan, horizontalOverflow, inConsole, launchBrowser, screenshot, signIn, startConsoleServer, type ConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const HOUR = 3_600_000
const DAY = 24 * HOUR
const read = [{ module: 'entry', acl: { read: true } }]

/** A forward-auth request with `secret` from `from`: its status. */
const use = async (server: ConsoleServer, apiKey: string, secret: string, uri = '/v3/content_types/blog/entries', from = '10.0.4.7'): Promise<number> =>
  (
    await fetch(`${server.origin}/v3/authorize`, {
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': uri, 'x-forwarded-for': from },
    })
  ).status

t.test('usage: last use in the table and on the token, charts of 24 hours and 30 days by outcome with their tables', async (t) => {
  const server = await startConsoleServer(t, { clock: START, config: { trustProxy: true, planReadLimit: 100 } })
  const ctx = await launchBrowser(t)
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'Used' } } })
  const apiKey = created.body.stack.api_key as string
  const make = async (name: string, expires_on: string | null = null) =>
    (await server.api('POST', '/v3/stacks/management_tokens', OWNER, { apiKey, body: { token: { name, scope: read, expires_on } } })).body.token as { uid: string; token: string }
  const deploy = await make('ci-deploy')
  await make('idle-export')
  const old = await make('old-export', new Date(START.getTime() + DAY).toISOString())
  const feed = await make('feed')

  // Day 1 (START): 3 allowed and 1 denied (assets are out of scope).
  for (let i = 0; i < 3; i += 1) t.equal(await use(server, apiKey, deploy.token), 200)
  t.equal(await use(server, apiKey, deploy.token, '/v3/assets'), 403)
  // 5 days later (12:00): 2 allowed from another address; a rotation with an hour of grace, the old
  // secret used once within it, and once 2 hours later ("revoked"). The expired token is tried.
  server.clock?.advance(5 * DAY)
  for (let i = 0; i < 2; i += 1) t.equal(await use(server, apiKey, deploy.token, undefined, '10.0.9.9'), 200)
  const rotated = await server.api('POST', `/v3/stacks/management_tokens/${deploy.uid}/rotate`, OWNER, { apiKey, body: { previous_expires_in_seconds: 3600 } })
  t.equal(rotated.status, 200)
  t.equal(await use(server, apiKey, deploy.token), 200, 'the previous secret in its grace')
  t.equal(await use(server, apiKey, old.token), 401, 'the expired token')
  server.clock?.advance(2 * HOUR)
  t.equal(await use(server, apiKey, deploy.token), 401, 'the rotated-out secret')
  // 18:00: 4 allowed with the new secret from 10.0.4.7; "feed" rotated with a day of grace, its old
  // secret used once. The console is opened 3 hours later.
  server.clock?.advance(4 * HOUR)
  for (let i = 0; i < 4; i += 1) t.equal(await use(server, apiKey, rotated.body.token.token), 200)
  t.equal((await server.api('POST', `/v3/stacks/management_tokens/${feed.uid}/rotate`, OWNER, { apiKey, body: { previous_expires_in_seconds: DAY / 1000 } })).status, 200)
  t.equal(await use(server, apiKey, feed.token), 200)
  await server.service.usage.flush()
  const viewed = new Date(START.getTime() + 5 * DAY + 9 * HOUR)
  server.clock?.set(viewed)

  const openUsage = async (page: Page) => {
    await signIn(page, OWNER)
    await page.goto(`${server.url}#/stacks/${apiKey}/tokens`)
    await page.locator('.token-table tbody tr').nth(1).waitFor()
  }

  for (const viewport of [{ width: 1280, height: 900 }, { width: 390, height: 844 }]) {
    const wide = viewport.width > 400
    await t.test(`at ${viewport.width} px`, async (t) => {
      await inConsole(t, ctx, server, async ({ page }) => {
        await openUsage(page)
        const row = page.locator('.token-table tbody tr', { hasText: 'ci-deploy' })
        await row.locator('td.c-usage', { hasText: 'allowed' }).waitFor()
        t.equal(await row.locator('td.c-last-used').innerText(), '3 hours ago from 10.0.4.7', 'the table: last use, relative, with the address')
        t.equal(await row.locator('td.c-last-used time').getAttribute('datetime'), new Date(viewed.getTime() - 3 * HOUR).toISOString(), 'the exact instant in <time datetime>')
        t.equal(await row.locator('td.c-last-used time').getAttribute('title'), '2026-03-06 18:00 UTC')
        t.equal(await row.locator('td.c-usage').innerText(), '7 allowed, 1 refused', 'the last 24 hours: 2 + 1 + 4 allowed, the rotated-out secret refused')
        t.equal(await page.locator('.token-table tbody tr', { hasText: 'old-export' }).locator('td.c-usage').innerText(), '0 allowed, 1 refused')
        t.equal(await row.locator('.flag').count(), 0, 'a token in use is not flagged')
        t.equal(await page.locator('.token-table tbody tr', { hasText: 'idle-export' }).locator('.flag').innerText(), 'Never used')

        await page.getByRole('link', { name: 'ci-deploy', exact: true }).click()
        await page.getByRole('heading', { name: 'ci-deploy', level: 2 }).waitFor()
        t.match(await page.locator('.card.token').innerText(), /Last used\n3 hours ago from 10\.0\.4\.7/, "the token's page says when and from where")

        const day = page.getByRole('figure', { name: /Last 24 hours/ })
        const month = page.getByRole('figure', { name: /Last 30 days/ })
        await day.waitFor()
        t.match(await day.locator('figcaption').innerText(), /Last 24 hours, per hour \(UTC\): 8 requests/)
        t.equal(await day.locator('.legend').innerText(), 'Allowed 7\nDenied 0\nRate limited 0\nExpired 0\nRevoked 1', 'the legend names each outcome with its total: not colour alone')
        t.equal(await month.locator('.legend').innerText(), 'Allowed 10\nDenied 1\nRate limited 0\nExpired 0\nRevoked 1')
        const picture = day.getByRole('img')
        t.match(await picture.getAttribute('aria-label'), /^Last 24 hours, per hour \(UTC\): 7 allowed, 0 denied, 0 rate limited, 0 expired, 1 revoked\./, 'the chart is labelled with what it shows')
        t.equal(await day.locator('svg.chart g').count(), 24, '24 hour buckets')
        t.equal(await month.locator('svg.chart g').count(), 30, '30 day buckets')
        t.equal(await month.locator('svg.chart g rect').count(), 4, 'bars on the 2 days with requests, one segment per outcome (allowed + revoked, allowed + denied)')

        t.notOk(await day.locator('table').isVisible(), 'the table is folded away at first')
        await day.getByText('Show the numbers as a table').click()
        const cells = await day.locator('table tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).innerText.replace(/\s+/g, ' ')))
        t.equal(cells.length, 24)
        t.match(cells.find((c) => c.startsWith('2026-03-06 12:00')), /^2026-03-06 12:00 3 0 0 0 0$/, '5 days after START at 12:00: 3 allowed (one with the previous secret)')
        t.match(cells.find((c) => c.startsWith('2026-03-06 14:00')), /^2026-03-06 14:00 0 0 0 0 1$/, 'the rotated-out secret at 14:00')
        t.match(cells.find((c) => c.startsWith('2026-03-06 18:00')), /^2026-03-06 18:00 4 0 0 0 0$/)
        await month.getByText('Show the numbers as a table').click()
        const days = await month.locator('table tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).innerText.replace(/\s+/g, ' ')))
        t.match(days.find((c) => c.startsWith('2026-03-01')), /^2026-03-01 3 1 0 0 0$/, 'day one: 3 allowed, 1 denied')
        t.equal(await horizontalOverflow(page), 0, 'no horizontal scrolling')
        await axeScan(t, page, `usage view at ${viewport.width} px`)
        await day.getByText('Show the numbers as a table').click()
        await month.getByText('Show the numbers as a table').click()
        await screenshot(page, wide ? 'usage' : 'usage-390')
        if (!wide) return
        await page.getByRole('link', { name: '← All tokens' }).click()
        await page.getByRole('link', { name: 'feed', exact: true }).click()
        const grace = page.locator('.card.token .grace')
        await grace.waitFor()
        t.match(await grace.innerText(), /Previous secret valid until 2026-03-07 18:00 UTC; last used 3 hours ago/, "during a grace, the previous secret's last use")
        t.equal(await grace.locator('time').getAttribute('datetime'), '2026-03-06T18:00:00.000Z')
        await page.getByRole('link', { name: '← All tokens' }).click()
        await page.getByRole('link', { name: 'old-export', exact: true }).click()
        await page.getByRole('figure', { name: /Last 30 days/ }).locator('.legend').getByText('Expired 1').waitFor()
        t.pass('a request with an expired token is counted as expired')
      }, { viewport, clock: viewed })
    })
  }
})
