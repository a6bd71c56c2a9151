/// <reference lib="dom" />
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { START } from '../support/app.js'
import { axeScan, historyHolds, inConsole, launchBrowser, NOWHERE, pageHolds, screenshot, SCREENSHOTS, signIn, startConsoleServer, type ConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const SECRET = /^cs[0-9a-f]{32,}$/

/** Whether a secret works against the request authorizer (forward-auth, a read of entries). */
const authorizes = async (server: ConsoleServer, apiKey: string, secret: string): Promise<number> =>
  (
    await fetch(`${server.origin}/v3/authorize`, {
      headers: { api_key: apiKey, authorization: secret, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/v3/content_types/blog/entries' },
    })
  ).status

const openStack = async (page: Page, name: string) => {
  await signIn(page, OWNER)
  await page.getByRole('link', { name }).click()
  await page.getByRole('heading', { name: 'Management tokens' }).waitFor()
}

/** Opens a token's own page from the table (its name links to it). */
const openToken = async (page: Page, name: string) => {
  await page.getByRole('link', { name, exact: true }).click()
  await page.getByRole('heading', { name, level: 2 }).waitFor()
}

/** Closing the panel must leave the secret nowhere, including every history entry's URL. */
const assertGone = async (t: Test, page: Page, secret: string) => {
  await page.locator('#secret-panel').waitFor({ state: 'detached' })
  t.same(await pageHolds(page, secret), NOWHERE, 'the secret is in no DOM node, storage, history state, URL or cookie')
  t.notOk(await historyHolds(page, secret), 'no history entry holds the secret')
}

t.test('tokens: generate with every field, the secret once, field errors, edit, rotate, revoke', async (t) => {
  const server = await startConsoleServer(t, { clock: START })
  const ctx = await launchBrowser(t)
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.origin })
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'Shop' } } })
  const apiKey = created.body.stack.api_key as string
  let secret = ''

  await t.test('empty state, then the generate form with every field and rule', async (t) => {
    await inConsole(
      t,
      ctx,
      server,
      async ({ page, requests }) => {
        await openStack(page, 'Shop')
        await page.getByText('No management tokens yet.').waitFor()
        t.match(await page.locator('.empty').innerText(), /lets a script or a service call this stack's management API/, 'the empty state explains what a token is')
        t.equal(await page.locator('.count').innerText(), '0 of 30 tokens')
        await axeScan(t, page, 'tokens (empty)')
        await screenshot(page, 'tokens-empty')

        await page.getByRole('button', { name: '+ Management token' }).click()
        await page.getByRole('heading', { name: 'Generate a management token' }).waitFor()
        t.equal(await page.getByLabel('Notify via email 7 days before').count(), 0, 'no notification offered while the expiry is Never')
        for (const m of ['All modules ($all)', 'Content types', 'Entries', 'Assets', 'Environments', 'Languages', 'Extensions', 'Webhooks', 'Workflows', 'Publish rules', 'Labels', 'Global fields', 'Releases', 'Roles', 'Taxonomies', 'Audit log (read-only)', 'Publish queue', 'Branches', 'Branch aliases'])
          t.equal(await page.getByRole('group', { name: m, exact: true }).getByRole('radio').count(), 3, `${m}: none, read, read and write`)
        t.ok(await page.getByRole('group', { name: 'Audit log (read-only)' }).getByLabel('Read and write').isDisabled(), 'audit_log cannot be writable')

        await page.getByLabel('Name').fill('ci-deploy')
        await page.getByLabel('Description (optional)').fill('Deploys from CI')
        await page.getByLabel('Specific branches').check()
        await page.getByLabel('Branches (comma-separated)').fill('main, staging')
        await page.getByLabel('Branch aliases (comma-separated, optional)').fill('deploy')
        await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read and write').check()
        await page.getByRole('group', { name: 'Assets', exact: true }).getByLabel('Read', { exact: true }).check()
        await page.getByRole('group', { name: 'Audit log (read-only)' }).getByLabel('Read', { exact: true }).check()
        await page.getByLabel('On a date (UTC)').check()
        t.equal(await page.getByLabel(/Expiry date/).getAttribute('min'), '2026-03-02', 'the earliest date is tomorrow (UTC)')
        await page.getByLabel(/Expiry date/).fill('2026-03-14')
        await page.getByLabel('Notify via email 7 days before').check()
        t.match(await page.getByRole('group', { name: 'Rate limits' }).innerText(), /Plan limit \(default\): 10 reads\/s, 10 writes\/s/, 'the plan ceiling is shown')
        await page.getByLabel('Custom').check()
        await page.getByLabel('Reads per second (at most 10)').fill('11')
        await page.getByLabel('Writes per second (at most 10)').fill('2')
        const posts = () => requests.filter((u) => u.endsWith('/v3/stacks/management_tokens')).length
        const before = posts()
        await page.getByRole('button', { name: 'Generate token' }).click()
        await page.locator('#tf-read-error').waitFor()
        t.equal(await page.locator('#tf-read-error').innerText(), 'At most 10 per second: the plan limit.', 'the ceiling is enforced in the form, next to the field')
        t.equal(posts(), before, 'nothing was sent')
        await page.getByLabel('Reads per second (at most 10)').fill('5')
        await axeScan(t, page, 'generate form')
        await screenshot(page, 'token-form')

        await page.getByRole('button', { name: 'Generate token' }).click()
        const panel = page.locator('#secret-panel')
        await panel.waitFor()
        secret = await panel.getByTestId('secret').innerText()
        t.match(secret, SECRET, 'the secret is shown')
        t.match(await panel.innerText(), new RegExp(apiKey), 'with the stack API key')
        t.match(await panel.innerText(), /shown only once/, 'and a warning')
        await panel.getByRole('button', { name: 'Copy token' }).click()
        await panel.getByText('Token copied.').waitFor()
        t.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the copy button copies the secret')
        await axeScan(t, page, 'secret panel')
        await page.screenshot({ path: join(SCREENSHOTS, 'secret-panel.png'), mask: [panel.getByTestId('secret')], maskColor: '#5b3cc4' })
        t.equal(await authorizes(server, apiKey, secret), 200, 'the secret works against /v3/authorize')

        await panel.getByRole('button', { name: 'I have copied it: close' }).click()
        await assertGone(t, page, secret)

        const row = page.locator('.token-table tbody tr', { hasText: 'ci-deploy' })
        t.match(await row.innerText(), /^ci-deploy\tRead and write: Entries · Read: Assets.*\tExpires in 12 days\tNever used\t/, 'the table: name, scope, expiry, last use')
        t.equal(await page.locator('.count').innerText(), '1 of 30 tokens')
        await axeScan(t, page, 'tokens (list)')
        await openToken(page, 'ci-deploy')
        const text = await page.locator('.card.token').innerText()
        for (const want of [
          'Deploys from CI',
          'Read and write: Entries · Read: Assets, Audit log, Branches, Branch aliases',
          'Branches: main, staging · Aliases: deploy',
          'Expires in 12 days (2026-03-14 00:00 UTC)',
          'Email notification\nOn',
          '5 reads/s, 2 writes/s',
          'by you on 2026-03-01 12:00 UTC',
          'Never rotated',
          'Last used\nNever used',
        ])
          t.ok(text.includes(want), `the token's page shows "${want}"`)
        await axeScan(t, page, 'token page')
        await screenshot(page, 'token-detail')
      },
      { clock: START },
    )
  })

  await t.test('a 422 from the API lands next to its field', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await openStack(page, 'Shop')
      await page.getByRole('button', { name: '+ Management token' }).click()
      await page.getByLabel('Name').fill('ci-deploy')
      await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read', { exact: true }).check()
      await page.getByRole('button', { name: 'Generate token' }).click()
      const err = page.locator('#tf-name + #tf-name-error')
      await err.waitFor()
      t.match(await err.innerText(), /already exists/, "the service's message sits right after the name field")
      t.equal(await page.getByLabel('Name').getAttribute('aria-invalid'), 'true')
      t.match(await page.getByLabel('Name').getAttribute('aria-describedby'), /tf-name-error/, 'and is linked to it')
      t.same(await page.evaluate(() => document.activeElement?.id), 'tf-name', 'focus moves to the field at fault')
    }, { clock: START })
  })

  await t.test('edit: the same form, filled; changes are saved', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await openStack(page, 'Shop')
      await openToken(page, 'ci-deploy')
      await page.getByRole('link', { name: 'Edit ci-deploy' }).click()
      await page.getByRole('heading', { name: 'Edit ci-deploy' }).waitFor()
      t.equal(await page.getByLabel('Name').inputValue(), 'ci-deploy')
      t.equal(await page.getByLabel('Description (optional)').inputValue(), 'Deploys from CI')
      t.ok(await page.getByLabel('Specific branches').isChecked())
      t.equal(await page.getByLabel('Branches (comma-separated)').inputValue(), 'main, staging')
      t.equal(await page.getByLabel('Branch aliases (comma-separated, optional)').inputValue(), 'deploy')
      t.ok(await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read and write').isChecked())
      t.ok(await page.getByRole('group', { name: 'Assets', exact: true }).getByLabel('Read', { exact: true }).isChecked())
      t.ok(await page.getByRole('group', { name: 'Webhooks', exact: true }).getByLabel('None').isChecked())
      t.equal(await page.getByLabel(/Expiry date/).inputValue(), '2026-03-14')
      t.ok(await page.getByLabel('Notify via email 7 days before').isChecked())
      t.equal(await page.getByLabel('Reads per second (at most 10)').inputValue(), '5')
      await axeScan(t, page, 'edit form')
      await screenshot(page, 'token-edit')
      await page.getByLabel('Description (optional)').fill('Deploys from CI, nightly')
      await page.getByLabel('Writes per second (at most 10)').fill('3')
      await page.getByLabel('Never').check()
      t.equal(await page.getByLabel('Notify via email 7 days before').count(), 0, 'the notification goes with the date')
      await page.getByRole('button', { name: 'Save changes' }).click()
      await page.getByText('Management Token updated successfully.').waitFor()
      t.match(await page.locator('.token-table tbody tr', { hasText: 'ci-deploy' }).innerText(), /\tNever expires\t/, 'the table shows the change')
      await openToken(page, 'ci-deploy')
      const text = await page.locator('.card.token').innerText()
      t.ok(text.includes('Deploys from CI, nightly') && text.includes('5 reads/s, 3 writes/s') && text.includes('Never expires'), 'the list shows the change')
      t.match(text, /Email notification\nOff/)
      const stored = await server.api('GET', '/v3/stacks/management_tokens', OWNER, { apiKey })
      t.match(stored.body.tokens[0], { description: 'Deploys from CI, nightly', rate_limit: { read: 5, write: 3 }, expires_on: null, is_email_notification_enabled: false })
    }, { clock: START })
  })

  await t.test('rotate with a grace period in hours: the new secret once; the old one works meanwhile, until the grace is ended', async (t) => {
    server.clock?.advance(3600_000)
    await inConsole(t, ctx, server, async ({ page }) => {
      await openStack(page, 'Shop')
      await openToken(page, 'ci-deploy')
      await page.getByRole('button', { name: 'Rotate ci-deploy' }).click()
      const dialog = page.locator('#rotate-dialog')
      const grace = dialog.getByLabel('Old secret keeps working for (hours, 0 to 168)')
      t.equal(await grace.inputValue(), '24', 'a day of grace is proposed')
      await grace.fill('169')
      t.ok(await dialog.getByRole('button', { name: 'Rotate' }).isDisabled(), 'more than 7 days cannot be sent')
      t.match(await dialog.locator('#rotate-grace-error').innerText(), /0 to 168/)
      await grace.fill('2')
      await axeScan(t, page, 'rotate dialog')
      await screenshot(page, 'rotate')
      await dialog.getByRole('button', { name: 'Rotate' }).click()
      const panel = page.locator('#secret-panel')
      await panel.waitFor()
      t.match(await panel.getByRole('heading').innerText(), /New secret for ci-deploy/)
      const rotated = await panel.getByTestId('secret').innerText()
      t.match(rotated, SECRET)
      t.not(rotated, secret, 'a new secret')
      t.equal(await authorizes(server, apiKey, rotated), 200, 'the new secret works')
      t.equal(await authorizes(server, apiKey, secret), 200, 'the old one still works during the grace period')
      await panel.getByRole('button', { name: 'I have copied it: close' }).click()
      await assertGone(t, page, rotated)
      await page.getByText('2026-03-01 13:00 UTC').first().waitFor()
      t.match(await page.locator('.card.token').innerText(), /Last rotation\n2026-03-01 13:00 UTC/, 'the last rotation is listed')
      const grace2 = page.locator('.card.token .grace')
      t.match(await grace2.innerText(), /Previous secret valid until 2026-03-01 15:00 UTC/, 'the card says until when the old secret works (2 hours)')
      await axeScan(t, page, 'tokens (grace running)')
      await screenshot(page, 'tokens-grace')
      await page.getByRole('button', { name: 'End grace now for ci-deploy' }).click()
      await page.getByText('Rotation grace ended: the previous secret no longer works.').waitFor()
      await grace2.waitFor({ state: 'detached' })
      t.equal(await authorizes(server, apiKey, secret), 401, 'the old secret is refused at once')
      t.equal(await authorizes(server, apiKey, rotated), 200, 'the new one works')
      secret = rotated
    }, { clock: new Date(START.getTime() + 3600_000) })
  })

  await t.test('revoke after typing the name', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await openStack(page, 'Shop')
      await openToken(page, 'ci-deploy')
      await page.getByRole('button', { name: 'Revoke ci-deploy' }).click()
      const dialog = page.locator('#revoke-dialog')
      const confirm = dialog.getByRole('button', { name: 'Revoke token' })
      t.ok(await confirm.isDisabled(), 'not before the name is typed')
      await dialog.getByLabel('Type ci-deploy to confirm').fill('ci-deplo')
      t.ok(await confirm.isDisabled(), 'not with a wrong name')
      await dialog.getByLabel('Type ci-deploy to confirm').fill('ci-deploy')
      await axeScan(t, page, 'revoke dialog')
      await screenshot(page, 'revoke')
      await confirm.click()
      await page.getByText('Management Token deleted successfully.').waitFor()
      await page.getByText('No management tokens yet.').waitFor()
      t.equal(await authorizes(server, apiKey, secret), 401, 'the revoked secret is refused')
    }, { clock: START })
  })
})

t.test('tokens: an expired token offers "Extend expiry" (the expiry field of its form), not Rotate', async (t) => {
  const server = await startConsoleServer(t, { clock: START })
  const ctx = await launchBrowser(t)
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'Old' } } })
  const apiKey = created.body.stack.api_key as string
  const scope = [{ module: 'entry', acl: { read: true } }]
  await server.api('POST', '/v3/stacks/management_tokens', OWNER, { apiKey, body: { token: { name: 'stale', scope, expires_on: '2026-03-02' } } })
  await server.api('POST', '/v3/stacks/management_tokens', OWNER, { apiKey, body: { token: { name: 'fresh', scope } } })
  const later = new Date('2026-03-03T12:00:00.000Z')
  server.clock?.set(later)
  await inConsole(t, ctx, server, async ({ page }) => {
    await openStack(page, 'Old')
    t.match(await page.locator('.token-table tbody tr', { hasText: 'stale' }).locator('.flag').first().innerText(), 'Expired', 'flagged in the table')
    await openToken(page, 'fresh')
    t.equal(await page.getByRole('button', { name: 'Rotate fresh' }).count(), 1, 'a working token is offered Rotate')
    t.equal(await page.getByRole('link', { name: 'Extend expiry of fresh' }).count(), 0)
    await page.getByRole('link', { name: '← All tokens' }).click()
    await openToken(page, 'stale')
    const stale = page.locator('.card.token')
    t.match(await stale.innerText(), /Expired/)
    t.equal(await page.getByRole('button', { name: 'Rotate stale' }).count(), 0, 'an expired token is not offered Rotate')
    await axeScan(t, page, 'tokens (expired token)')
    await page.getByRole('link', { name: 'Extend expiry of stale' }).click()
    await page.getByRole('heading', { name: 'Edit stale' }).waitFor()
    await page.waitForFunction(() => document.activeElement?.id === 'tf-date')
    t.pass('the expiry date has the focus')
    await page.getByLabel(/Expiry date/).fill('2026-04-01')
    await page.getByRole('button', { name: 'Save changes' }).click()
    await page.getByText('Management Token updated successfully.').waitFor()
    await openToken(page, 'stale')
    await page.getByRole('button', { name: 'Rotate stale' }).waitFor()
    t.match(await stale.innerText(), /Expires in 28 days/, 'extended, it may be rotated again')
  }, { clock: later })
})

t.test('tokens: "N of max" and the limit-reached state', async (t) => {
  const server = await startConsoleServer(t, { config: { maxTokensPerStack: 2 } })
  const ctx = await launchBrowser(t)
  const created = await server.api('POST', '/v3/stacks', OWNER, { body: { stack: { name: 'Full' } } })
  const apiKey = created.body.stack.api_key as string
  for (const name of ['one', 'two'])
    await server.api('POST', '/v3/stacks/management_tokens', OWNER, { apiKey, body: { token: { name, scope: [{ module: 'entry', acl: { read: true } }] } } })
  await inConsole(t, ctx, server, async ({ page }) => {
    await openStack(page, 'Full')
    await page.getByText('2 of 2 tokens').waitFor()
    t.ok(await page.getByRole('button', { name: '+ Management token' }).isDisabled(), 'generating is not offered')
    t.match(await page.locator('#limit-reached').innerText(), /Limit reached: this stack has 2 live tokens/)
    await axeScan(t, page, 'tokens (limit reached)')
    await screenshot(page, 'tokens-limit')
    await page.goto(`${server.url}#/stacks/${apiKey}/tokens/new`)
    await page.locator('#limit-reached').waitFor()
    t.equal(await page.getByRole('button', { name: 'Generate token' }).count(), 0, 'not even through the URL')
  })
})
