/// <reference lib="dom" />
import t from 'tap'
import { axeScan, inConsole, launchBrowser, screenshot, signIn, startConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const ADMIN = 'admin@example.com'
const START = new Date('2026-03-01T12:00:00.000Z')
const PHONE = { width: 390, height: 844 }
const RULE = "This stack requires an expiry within 90 days of the token's creation."

t.test('the token policy page: the owner edits, an admin reads; the token form shows the rules', async (t) => {
  const server = await startConsoleServer(t, { clock: START })
  const ctx = await launchBrowser(t)
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'Shop' } } })
  const apiKey = created.body.stack.api_key as string
  await server.api('POST', '/v3/stacks/share', OWNER, { apiKey, body: { emails: [ADMIN], roles: { [ADMIN]: ['admin'] } } })
  const openPolicy = async (page: Parameters<Parameters<typeof inConsole>[3]>[0]['page'], as: string) => {
    await signIn(page, as)
    await page.getByRole('link', { name: 'Shop' }).click()
    await page.getByRole('link', { name: 'Token policy' }).click()
    await page.getByRole('heading', { name: 'Token policy' }).waitFor()
  }

  await t.test('owner: no rules, a bad value named at its field, then rules saved', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await openPolicy(page, OWNER)
      await page.getByText('No rules: tokens may live as long as their creators choose.').waitFor()
      await axeScan(t, page, 'policy (no rules)')
      await page.getByLabel(/Maximum token lifetime/).fill('0')
      await page.getByRole('button', { name: 'Save policy' }).click()
      await page.locator('#pf-max_lifetime_days-error').waitFor()
      t.match(await page.locator('#pf-max_lifetime_days-error').innerText(), /from 1 to 3650/)
      t.equal(await page.getByLabel(/Maximum token lifetime/).getAttribute('aria-invalid'), 'true')
      t.same((await server.api('GET', '/v3/stacks/management_token_policy', OWNER, { apiKey })).body.policy.max_lifetime_days, null, 'nothing changed')
      await page.getByLabel(/Maximum token lifetime/).fill('90')
      await page.getByLabel('Every token must have an expiry').check()
      await page.getByRole('button', { name: 'Save policy' }).click()
      await page.getByRole('status').filter({ hasText: 'Management token policy updated successfully.' }).waitFor()
      await page.getByRole('list', { name: 'Rules in force' }).getByText(RULE).waitFor()
      t.match((await server.api('GET', '/v3/stacks/management_token_policy', OWNER, { apiKey })).body.policy, { max_lifetime_days: 90, require_expiry: true })
      await axeScan(t, page, 'policy (owner)')
      await screenshot(page, 'policy')
    })
  })

  await t.test('admin: reads the rules, no form (1280 and 390 px)', async (t) => {
    for (const viewport of [undefined, PHONE])
      await inConsole(
        t,
        ctx,
        server,
        async ({ page }) => {
          await openPolicy(page, ADMIN)
          await page.getByRole('list', { name: 'Rules in force' }).getByText(RULE).waitFor()
          t.equal(await page.getByRole('button', { name: 'Save policy' }).count(), 0, 'no form for an admin')
          await page.getByText("Only the stack's owner can change the token policy.").waitFor()
          await axeScan(t, page, `policy (admin${viewport ? ', 390 px' : ''})`)
        },
        viewport ? { viewport } : {},
      )
  })

  await t.test('the token form says the rules before submit, and shows the refusal of "Never"', async (t) => {
    for (const viewport of [undefined, PHONE])
      await inConsole(
        t,
        ctx,
        server,
        async ({ page }) => {
          await signIn(page, OWNER)
          await page.getByRole('link', { name: 'Shop' }).click()
          await page.getByRole('button', { name: '+ Management token' }).click()
          const expiry = page.getByRole('group', { name: 'Expiry' })
          await expiry.getByText(RULE).waitFor()
          await page.getByLabel('Name').fill(`never-${viewport ? 'phone' : 'desk'}`)
          await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read', { exact: true }).check()
          await page.getByRole('button', { name: 'Generate token' }).click()
          await page.locator('#tf-date-error').waitFor()
          t.match(await page.locator('#tf-date-error').innerText(), /require_expiry/, 'the refusal is shown at the expiry')
          t.same((await server.api('GET', '/v3/stacks/management_tokens', OWNER, { apiKey })).body.tokens, [], 'no token was created')
          await axeScan(t, page, `token form with the policy${viewport ? ' (390 px)' : ''}`)
          if (!viewport) await screenshot(page, 'token-form-policy')
        },
        { clock: START, ...(viewport ? { viewport } : {}) },
      )
  })
})
