/// <reference lib="dom" />
import t from 'tap'
import type { Page } from 'playwright-core'
import { START } from '../support/app.js'
import { horizontalOverflow, inConsole, launchBrowser, screenshot, signIn, startConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const PHONE = { width: 390, height: 844 }
const DESKTOP = { width: 1280, height: 900 }

t.test('every page fits 390 px and 1280 px wide; keyboard only works', async (t) => {
  const server = await startConsoleServer(t, { clock: START })
  const ctx = await launchBrowser(t)
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'A stack with a rather long name for a phone screen' } } })
  const apiKey = created.body.stack.api_key as string
  await server.api('POST', '/v3/stacks/share', OWNER, { apiKey, body: { emails: ['someone.with.a.long.address@example.com'], roles: { 'someone.with.a.long.address@example.com': ['content_manager'] } } })
  await server.api('POST', '/v3/stacks/management_tokens', OWNER, {
    apiKey,
    body: {
      token: {
        name: 'nightly-content-export-with-a-long-name',
        description: 'Exports entries and assets every night',
        scope: [
          { module: 'entry', acl: { read: true, write: true } },
          { module: 'asset', acl: { read: true } },
          { module: 'branch', acl: { read: true }, branches: ['main', 'staging-with-long-name'] },
        ],
        expires_on: '2026-04-01',
        is_email_notification_enabled: true,
        rate_limit: { read: 5, write: 1 },
      },
    },
  })
  const base = `${server.url}#/stacks/${apiKey}`
  const pages: Array<[string, (page: Page) => Promise<void>]> = [
    ['stacks', async (page) => void (await page.getByRole('heading', { name: 'Stacks', exact: true }).waitFor())],
    ['tokens', async (page) => {
      await page.goto(`${base}/tokens`)
      await page.locator('.token-table tbody tr').waitFor()
    }],
    ['token', async (page) => {
      await page.goto(`${base}/tokens`)
      await page.getByRole('link', { name: 'nightly-content-export-with-a-long-name' }).click()
      await page.locator('.card.token').waitFor()
    }],
    ['token-form', async (page) => {
      await page.goto(`${base}/tokens/new`)
      await page.getByLabel('On a date (UTC)').check()
      await page.getByLabel('Custom').check()
    }],
    ['members', async (page) => {
      await page.goto(`${base}/members`)
      await page.getByLabel('New owner').waitFor()
    }],
    ['audit', async (page) => {
      await page.goto(`${base}/audit`)
      await page.locator('table.stacked tbody tr').first().waitFor()
    }],
    ['as-of', async (page) => {
      await page.goto(`${base}/as-of`)
      await page.getByLabel('Instant (UTC)').fill('2026-03-02T00:00')
      await page.getByRole('button', { name: 'Show tokens then' }).click()
      await page.locator('table.stacked tbody tr').first().waitFor()
    }],
  ]

  for (const [label, viewport] of [['390 px', PHONE], ['1280 px', DESKTOP]] as const) {
    await t.test(`at ${label}`, async (t) => {
      await inConsole(
        t,
        ctx,
        server,
        async ({ page }) => {
          await page.getByLabel('Email').waitFor()
          t.equal(await horizontalOverflow(page), 0, 'sign-in: no horizontal scrolling')
          if (viewport === PHONE) await screenshot(page, 'sign-in-390')
          await signIn(page, OWNER)
          for (const [name, open] of pages) {
            await open(page)
            t.equal(await horizontalOverflow(page), 0, `${name}: no horizontal scrolling`)
            if (viewport === PHONE) await screenshot(page, `${name}-390`)
          }
          await page.goto(`${base}/tokens`)
          await page.getByRole('link', { name: 'nightly-content-export-with-a-long-name' }).click()
          await page.getByRole('button', { name: /^Rotate/ }).click()
          await page.locator('#rotate-dialog').waitFor()
          const box = await page.locator('#rotate-dialog').boundingBox()
          t.ok(box && box.x >= 0 && box.x + box.width <= viewport.width, 'a dialog fits the width')
          await page.keyboard.press('Escape')
          await page.locator('#rotate-dialog').waitFor({ state: 'detached' })
        },
        { viewport, clock: START },
      )
    })
  }

  await t.test('keyboard only: sign in, open a stack, generate a token, close the secret', async (t) => {
    await inConsole(
      t,
      ctx,
      server,
      async ({ page }) => {
        const focused = () => page.evaluate(() => {
          const el = document.activeElement as HTMLElement | null
          return el ? `${el.tagName.toLowerCase()}:${el.id || el.getAttribute('aria-label') || el.textContent?.trim()}` : ''
        })
        const tabTo = async (want: RegExp, max = 80) => {
          for (let i = 0; i < max; i += 1) {
            if (want.test(await focused())) return
            await page.keyboard.press('Tab')
          }
          throw new Error(`Tab never reached ${want}`)
        }
        await page.getByLabel('Email').waitFor()
        await tabTo(/^input:signin-email$/)
        await page.keyboard.type(OWNER)
        await page.keyboard.press('Enter')
        await page.getByText(`Signed in as ${OWNER}`).waitFor()
        await tabTo(/^a:A stack with a rather long name/)
        await page.keyboard.press('Enter')
        await page.locator('.token-table').waitFor()
        await tabTo(/^button:\+ Management token$/)
        await page.keyboard.press('Enter')
        await tabTo(/^input:tf-name$/)
        await page.keyboard.type('keyboard-made')
        // Entries: Read. Radios in a group move with the arrow keys.
        await tabTo(/^input:tf-perm-entry-none$/)
        await page.keyboard.press('ArrowRight')
        t.ok(await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read', { exact: true }).isChecked(), 'arrow keys choose a permission')
        await tabTo(/^button:Generate token$/, 120)
        await page.keyboard.press('Enter')
        const panel = page.locator('#secret-panel')
        await panel.waitFor()
        t.match(await focused(), /^button:Copy token$/, 'focus moves into the secret panel')
        await page.keyboard.press('Escape')
        await panel.waitFor({ state: 'detached' })
        await page.locator('.token-table tbody tr', { hasText: 'keyboard-made' }).waitFor()
        await tabTo(/^a:keyboard-made$/, 120)
        await page.keyboard.press('Enter')
        await page.locator('.card.token').waitFor()
        await tabTo(/^button:Revoke keyboard-made$/, 120)
        await page.keyboard.press('Enter')
        await page.locator('#revoke-dialog').waitFor()
        t.match(await focused(), /^input:revoke-name$/, 'focus moves into the revoke dialog')
        await page.keyboard.type('keyboard-made')
        await page.keyboard.press('Enter')
        await page.getByText('Management Token deleted successfully.').waitFor()
        t.pass('a token generated and revoked with the keyboard alone')
        const ring = await page.evaluate(() => {
          const b = document.querySelector('button') as HTMLButtonElement
          b.focus()
          return getComputedStyle(b).outlineStyle
        })
        t.not(ring, 'none', 'focused controls show a focus ring')
      },
      { clock: START },
    )
  })
})
