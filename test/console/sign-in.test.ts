/// <reference lib="dom" />
import t from 'tap'
import { mintAuthtoken } from '../../src/http/auth.js'
import { waitFor } from '../support/wait-for.js'
import { axeScan, historyHolds, inConsole, launchBrowser, NOWHERE, pageHolds, screenshot, startConsoleServer } from '../support/console.js'

t.test('development sign-in: the email form, a field error, the authtoken in memory only', async (t) => {
  const server = await startConsoleServer(t)
  const ctx = await launchBrowser(t)
  await inConsole(t, ctx, server, async ({ page }) => {
    const authtokens = new Set<string>()
    page.on('request', (r) => {
      const a = r.headers().authtoken
      if (a) authtokens.add(a)
    })
    await page.getByRole('heading', { name: 'Sign in to the management-token console' }).waitFor()
    t.match(await page.locator('.signin').innerText(), /Development mode/)
    await axeScan(t, page, 'sign-in (development)')
    await screenshot(page, 'sign-in')
    await page.getByLabel('Email').fill('not an email')
    await page.getByRole('button', { name: 'Sign in' }).click()
    const err = page.locator('#signin-email + #signin-email-error')
    await err.waitFor()
    t.ok((await err.innerText()).length > 0, "the service's 422 sits next to the email field")
    t.equal(await page.getByLabel('Email').inputValue(), 'not an email', 'what was typed is kept')
    // Keyboard only: type, then Enter submits the form.
    await page.getByLabel('Email').fill('')
    await page.getByLabel('Email').pressSequentially('owner@example.com')
    await page.keyboard.press('Enter')
    await page.getByText('Signed in as owner@example.com').waitFor()
    await page.getByText('You belong to no stack yet.').waitFor()
    t.equal(authtokens.size, 1, 'the console sent one authtoken')
    const [authtoken] = [...authtokens] as [string]
    t.same(await pageHolds(page, authtoken), NOWHERE, 'the authtoken is in no DOM node, storage, history state, URL or cookie')
    t.notOk(await historyHolds(page, authtoken), 'nor in any history entry')
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to the management-token console' }).waitFor()
  })
})

t.test('expired sign-in: the console says so, signs in again and keeps the form', async (t) => {
  const secret = 'console-test-secret'
  const server = await startConsoleServer(t, { config: { jwtSecret: secret } })
  const ctx = await launchBrowser(t)
  const owner = { email: 'owner@example.com', sub: 'u-owner' }
  const created = await server.api('POST', '/v3/stacks', owner.email, { body: { stack: { name: 'Kept' } } })
  const apiKey = created.body.stack.api_key as string
  // Long enough to sign in and fill the form on a loaded machine; then the test waits it out.
  const LIFETIME = 12_000
  await inConsole(t, ctx, server, async ({ page }) => {
    await page.getByLabel('Authtoken').waitFor()
    await axeScan(t, page, 'sign-in (pasted authtoken)')
    const short = mintAuthtoken(secret, owner, LIFETIME)
    const expiresAt = Date.now() + LIFETIME
    await page.getByLabel('Authtoken').fill(short)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByText('Signed in as owner@example.com').waitFor()
    t.equal(await page.getByLabel('Authtoken').count(), 0, 'the pasted token is gone from the form')
    await page.goto(`${server.url}#/stacks/${apiKey}/tokens/new`)
    await page.getByLabel('Name').fill('kept-name')
    await page.getByLabel('Description (optional)').fill('typed before expiry')
    await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read and write').check()
    // The service checks `exp` against its real clock: wait (bounded) until it has passed.
    await waitFor(() => Date.now() > expiresAt + 1000, { timeoutMs: LIFETIME + 5000, intervalMs: 50, label: 'the authtoken to expire' })
    await page.getByRole('button', { name: 'Generate token' }).click()
    const notice = page.getByText('Your sign-in has expired. Sign in again to continue; what you typed is kept.')
    await notice.waitFor()
    await axeScan(t, page, 'expired sign-in')
    await screenshot(page, 'sign-in-expired')
    const fresh = mintAuthtoken(secret, owner)
    await page.getByLabel('Authtoken').fill(fresh)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await notice.waitFor({ state: 'detached' })
    t.equal(await page.getByRole('alert').count(), 0, 'no stale error is left on the form')
    t.equal(await page.getByLabel('Name').inputValue(), 'kept-name', 'the name is kept')
    t.equal(await page.getByLabel('Description (optional)').inputValue(), 'typed before expiry', 'the description is kept')
    t.ok(await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read and write').isChecked(), 'the permissions are kept')
    await page.getByRole('button', { name: 'Generate token' }).click()
    await page.locator('#secret-panel').waitFor()
    await page.getByRole('button', { name: 'I have copied it: close' }).click()
    await page.locator('.token-table tbody tr', { hasText: 'kept-name' }).waitFor()
    t.same(await pageHolds(page, fresh), NOWHERE, 'the pasted authtoken is kept in memory only')
  })
})
