/// <reference lib="dom" />
import t from 'tap'
import type { Page } from 'playwright-core'
import { START } from '../support/app.js'
import { axeScan, horizontalOverflow, inConsole, launchBrowser, screenshot, signIn, startConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const DAY = 86_400_000
const SCREEN = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const HOUR = 3_600_000
/** The console is looked at 40 days after the tokens were made: some have expired by then. */
const LATER = new Date(START.getTime() + 40 * DAY)
const read = [{ module: 'entry', acl: { read: true } }]

/** 30 tokens: names from a fixed list, expiries spread (2 expired, 3 within 7 days, the rest later or never). */
const NAMES = Array.from({ length: 30 }, (_, i) => `${['ci-deploy', 'nightly-export', 'search-index', 'preview', 'migration'][i % 5]}-${String(i + 1).padStart(2, '0')}`)
const expiryOf = (i: number): string | null => {
  if (i < 2) return new Date(START.getTime() + (3 + i) * DAY).toISOString() // expired by LATER
  if (i < 5) return new Date(LATER.getTime() + (i - 1) * DAY).toISOString() // 1 to 3 days left
  if (i % 3 === 0) return null
  return new Date(LATER.getTime() + (10 + i) * DAY).toISOString()
}

const rowNames = (page: Page) => page.locator('.token-table tbody td.c-name').allInnerTexts()

t.test('token table: 30 tokens on one screen, search, sort, flags; axe-clean at 1280 and 390 px', async (t) => {
  const server = await startConsoleServer(t, { clock: START, config: { trustProxy: true } })
  const ctx = await launchBrowser(t)
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'Busy' } } })
  const apiKey = created.body.stack.api_key as string
  const secrets: string[] = []
  for (const [i, name] of NAMES.entries()) {
    const res = await server.api('POST', '/v3/stacks/management_tokens', OWNER, { apiKey, body: { token: { name, scope: read, expires_on: expiryOf(i) } } })
    t.equal(res.status, 201, `created ${name}`)
    secrets.push(res.body.token.token)
  }
  /** One allowed request with token `i`'s secret at `at`, from 10.0.4.7. */
  const useAt = async (i: number, at: number) => {
    server.clock?.set(new Date(at))
    const res = await fetch(`${server.origin}/v3/authorize`, {
      headers: { api_key: apiKey, authorization: secrets[i] ?? '', 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/a/entries', 'x-forwarded-for': '10.0.4.7' },
    })
    t.equal(res.status, 200, `${NAMES[i]} used`)
  }
  await useAt(5, START.getTime()) // ci-deploy-06: 40 days before, "Unused 30+ days"
  await useAt(8, LATER.getTime() - 2 * DAY) // preview-09
  await useAt(6, LATER.getTime() - 3 * HOUR) // nightly-export-07
  await useAt(7, LATER.getTime() - 3 * HOUR) // search-index-08
  await server.service.usage.flush()
  server.clock?.set(LATER)
  const open = async (page: Page) => {
    await signIn(page, OWNER)
    await page.goto(`${server.url}#/stacks/${apiKey}/tokens`)
    await page.locator('.token-table tbody tr').nth(29).waitFor()
  }

  await t.test('at 1280 x 800: every row within the screen once the table is scrolled to', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await open(page)
      t.equal(await page.locator('.count').innerText(), '30 of 30 tokens')
      const table = page.locator('.token-table')
      await table.evaluate((el) => el.scrollIntoView({ block: 'start' }))
      const boxes = await page.locator('.token-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect()).map((b) => ({ top: b.top, bottom: b.bottom, height: b.height })))
      t.equal(boxes.length, 30)
      t.ok(boxes.every((b) => b.top >= 0 && b.bottom <= 800), `all 30 rows inside the 800 px screen (last row ends at ${Math.round(boxes[29]?.bottom ?? 0)} px)`)
      t.ok(boxes.every((b) => b.height <= 26), 'each token is one line')
      t.equal(await horizontalOverflow(page), 0, 'no horizontal scrolling')

      const row = (name: string) => page.locator('.token-table tbody tr', { hasText: name })
      t.match(await row('ci-deploy-01').innerText(), /Expired[\s\S]*Never used/, 'expired and never used, flagged')
      t.equal(await row('nightly-export-02').locator('.flag').first().innerText(), 'Expired')
      t.equal(await row('search-index-03').locator('.flag').first().innerText(), 'Expires soon', '1 day left')
      t.equal(await row('migration-05').locator('.flag').first().innerText(), 'Expires soon', '3 days left')
      t.match(await row('preview-04').locator('td.c-expiry').innerText(), /^Expires in 2 days$/)
      t.equal(await row('preview-04').locator('td.c-expiry').getAttribute('title'), '2026-04-12 12:00 UTC', 'the exact time on hover')
      t.equal(await row('migration-10').locator('td.c-last-used').innerText(), 'Never used')
      t.equal(await row('migration-10').locator('.flag').innerText(), 'Never used')
      t.equal(await row('ci-deploy-06').locator('td.c-last-used').innerText(), '40 days ago from 10.0.4.7')
      t.equal(await row('ci-deploy-06').locator('.flag').innerText(), 'Unused 30+ days')
      t.equal(await row('nightly-export-07').locator('td.c-last-used').innerText(), '3 hours ago from 10.0.4.7')
      t.equal(await row('nightly-export-07').locator('.flag').count(), 0, 'a token in use, with no expiry: no flag')
      t.equal(await row('nightly-export-07').locator('td.c-usage').innerText(), '1 allowed')
      t.equal(await row('ci-deploy-06').locator('td.c-scope').innerText(), 'Read: Entries')
      await axeScan(t, page, 'token table (30 tokens)')
      await page.evaluate(() => scrollTo(0, 0))
      await screenshot(page, 'tokens')
    }, { viewport: SCREEN, clock: LATER })
  })

  await t.test('search filters as you type; headers sort with aria-sort', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await open(page)
      const names = await rowNames(page)
      t.same(names, [...NAMES].sort(), 'by name, A to Z, at first')
      const nameHeader = page.locator('th', { has: page.getByRole('button', { name: /^Name/ }) })
      t.equal(await nameHeader.getAttribute('aria-sort'), 'ascending')

      await page.getByLabel('Search by name').pressSequentially('PREV')
      t.same(await rowNames(page), NAMES.filter((n) => n.startsWith('preview')).sort(), 'only matching names, case-insensitive')
      t.equal(await page.getByRole('status').filter({ hasText: 'match' }).innerText(), '6 of 30 tokens match')
      await page.getByLabel('Search by name').fill('zzz')
      t.equal(await page.locator('.token-table tbody tr').count(), 0)
      t.match(await page.locator('.empty').innerText(), /No token's name holds “zzz”/)
      await page.getByLabel('Search by name').fill('')

      await page.getByRole('button', { name: /^Expiry/ }).click()
      const expiryHeader = page.locator('th', { has: page.getByRole('button', { name: /^Expiry/ }) })
      t.equal(await expiryHeader.getAttribute('aria-sort'), 'ascending')
      t.equal(await nameHeader.getAttribute('aria-sort'), null, 'only one column is sorted')
      t.same((await rowNames(page)).slice(0, 5), ['ci-deploy-01', 'nightly-export-02', 'search-index-03', 'preview-04', 'migration-05'], 'expired first, then the soonest')
      await page.getByRole('button', { name: /^Expiry/ }).click()
      t.equal(await expiryHeader.getAttribute('aria-sort'), 'descending')
      t.equal((await rowNames(page)).at(-1), 'ci-deploy-01', 'turned round')
      t.equal(await page.locator('.token-table tbody tr').first().locator('td.c-expiry').innerText(), 'Never expires')

      await page.getByRole('button', { name: /^Last used/ }).click()
      t.equal(await page.locator('th', { has: page.getByRole('button', { name: /^Last used/ }) }).getAttribute('aria-sort'), 'ascending')
      const used = ['ci-deploy-06', 'preview-09', 'nightly-export-07', 'search-index-08']
      t.same(await rowNames(page), [...NAMES.filter((n) => !used.includes(n)).sort(), ...used], 'never used first (in name order), then the longest unused')
      await page.getByRole('button', { name: /^Last used/ }).click()
      t.same((await rowNames(page)).slice(0, 4), ['nightly-export-07', 'search-index-08', 'preview-09', 'ci-deploy-06'], 'turned round: the most recent first (a tie still in name order)')
    }, { viewport: SCREEN, clock: LATER })
  })

  await t.test('a row opens the token; an expired one offers Extend expiry, not Rotate', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await open(page)
      await page.locator('.token-table tbody tr', { hasText: 'nightly-export-02' }).locator('td.c-expiry').click()
      await page.getByRole('heading', { name: 'nightly-export-02', level: 2 }).waitFor()
      t.match(await page.locator('.card.token').innerText(), /Last used\nNever used/)
      t.equal(await page.getByRole('button', { name: 'Rotate nightly-export-02' }).count(), 0)
      t.equal(await page.getByRole('link', { name: 'Extend expiry of nightly-export-02' }).count(), 1)
      await page.getByRole('link', { name: '← All tokens' }).click()
      await page.getByRole('link', { name: 'preview-04', exact: true }).click()
      await page.getByRole('button', { name: 'Rotate preview-04' }).waitFor()
      t.pass('a working token offers Rotate')
    }, { viewport: SCREEN, clock: LATER })
  })

  await t.test('at 390 px: rows stack, sorting stays, nothing overflows', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await open(page)
      t.equal(await horizontalOverflow(page), 0, 'no horizontal scrolling')
      t.ok(await page.getByRole('button', { name: /^Expiry/ }).isVisible(), 'the sort buttons are shown')
      const row = page.locator('.token-table tbody tr', { hasText: 'search-index-03' })
      t.match(await row.innerText(), /search-index-03\nRead: Entries\nExpires in 1 day\nNever used\n[\s\S]*Expires soon/, 'each token a block, a fact a line')
      const labels = await row.locator('td').evaluateAll((tds) => tds.map((td) => getComputedStyle(td, '::before').content))
      t.same(labels, ['none', '"Scope: "', '"Expiry: "', '"Last used: "', '"Requests, 24 h: "', 'none'], 'each fact labelled (the name and the flags speak for themselves)')
      await page.getByRole('button', { name: /^Expiry/ }).click()
      t.equal((await rowNames(page))[0], 'ci-deploy-01')
      await axeScan(t, page, 'token table at 390 px')
      await screenshot(page, 'token-table-390')
    }, { viewport: PHONE, clock: LATER })
  })
})
