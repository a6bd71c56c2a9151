/// <reference lib="dom" />
import t from 'tap'
import { startOidcProvider, TEST_ACCOUNT } from '../support/oidc-provider.js'
import { waitFor } from '../support/wait-for.js'
import { axeScan, historyHolds, inConsole, launchBrowser, NOWHERE, pageHolds, screenshot, startConsoleServer } from '../support/console.js'

t.test('OIDC sign-in in the browser against a real OpenID Provider', async (t) => {
  let callback = ''
  const op = await startOidcProvider(t, { redirectUris: () => [callback] })
  const server = await startConsoleServer(t, { config: { oidcIssuerUrl: op.issuer, oidcClientId: op.clientId } })
  callback = `${server.origin}/console/auth/callback`
  const ctx = await launchBrowser(t)

  await inConsole(
    t,
    ctx,
    server,
    async ({ page }) => {
      const authtokens = new Set<string>()
      page.on('request', (r) => {
        const a = r.headers().authtoken
        if (a) authtokens.add(a)
      })
      const button = page.getByRole('link', { name: 'Sign in with your identity provider' })
      await button.waitFor()
      t.equal(await page.getByLabel('Email').count(), 0, 'no development form in OIDC mode')
      await axeScan(t, page, 'sign-in (OIDC)')
      await screenshot(page, 'sign-in-oidc')

      await button.click()
      await page.waitForURL((u) => u.origin === op.issuer)
      t.pass('the button navigates to the identity provider')
      await page.getByLabel('Email').fill(TEST_ACCOUNT.email)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.waitForURL((u) => u.origin === server.origin && u.pathname === '/console/')
      await page.getByText(`Signed in as ${TEST_ACCOUNT.email}`).waitFor()
      t.pass('back in the console, signed in')

      await page.getByLabel('Name').fill('Federated')
      await page.getByRole('button', { name: 'Create stack' }).click()
      await page.getByRole('heading', { name: 'Federated' }).waitFor()
      t.equal(authtokens.size, 1, 'one authtoken: the id_token')
      const [idToken] = [...authtokens] as [string]
      t.equal(JSON.parse(Buffer.from(idToken.split('.')[0] as string, 'base64url').toString()).kid, op.kid(), 'signed by the provider')
      const stacks = await fetch(`${server.origin}/v3/stacks`, { headers: { authtoken: idToken } }).then((r) => r.json())
      t.match(stacks, { stacks: [{ name: 'Federated', role: 'owner' }] }, 'the stack belongs to the provider account')
      t.same(await pageHolds(page, idToken), NOWHERE, 'the id_token is in no DOM node, storage, history state, URL or readable cookie')
      t.notOk(await historyHolds(page, idToken), 'nor in any history entry')

      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('link', { name: 'Sign in with your identity provider' }).waitFor()
      await page.reload()
      await page.getByRole('link', { name: 'Sign in with your identity provider' }).waitFor()
      t.equal(await page.getByText('Signed in as').count(), 0, 'signed out stays signed out after a reload')
    },
    { navigatesTo: [op.issuer] },
  )
})

t.test('OIDC sign-in expired: sign in again in a new tab, the form is kept', async (t) => {
  let callback = ''
  const TTL = 15
  const op = await startOidcProvider(t, { redirectUris: () => [callback], idTokenTtl: TTL })
  const server = await startConsoleServer(t, { config: { oidcIssuerUrl: op.issuer, oidcClientId: op.clientId } })
  callback = `${server.origin}/console/auth/callback`
  const ctx = await launchBrowser(t)

  await inConsole(
    t,
    ctx,
    server,
    async ({ page }) => {
      let exp = 0
      page.on('request', (r) => {
        const a = r.headers().authtoken
        if (a) exp = Math.max(exp, JSON.parse(Buffer.from(a.split('.')[1] as string, 'base64url').toString()).exp as number)
      })
      await page.getByRole('link', { name: 'Sign in with your identity provider' }).click()
      await page.getByLabel('Email').fill(TEST_ACCOUNT.email)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByText(`Signed in as ${TEST_ACCOUNT.email}`).waitFor()
      await page.getByLabel('Name').fill('Expiring')
      await page.getByRole('button', { name: 'Create stack' }).click()
      await page.getByRole('button', { name: '+ Management token' }).click()
      await page.getByLabel('Name').fill('made-after-expiry')
      await page.getByRole('group', { name: 'Entries', exact: true }).getByLabel('Read', { exact: true }).check()
      t.ok(exp > 0, 'the id_token has an expiry')
      // The service checks `exp` against its real clock: wait (bounded) until it has passed.
      await waitFor(() => Date.now() > exp * 1000 + 1000, { timeoutMs: (TTL + 10) * 1000, intervalMs: 100, label: 'the id_token to expire' })
      await page.getByRole('button', { name: 'Generate token' }).click()
      const again = page.getByRole('link', { name: 'Sign in again (opens a new tab)' })
      await again.waitFor()
      t.match(await page.locator('.overlay').innerText(), /Your sign-in has expired/)
      await axeScan(t, page, 'expired sign-in (OIDC)')

      const [other] = await Promise.all([ctx.waitForEvent('page'), again.click()])
      await other.waitForURL((u) => u.origin === op.issuer || u.pathname === '/console/')
      if (new URL(other.url()).origin === op.issuer) {
        await other.getByLabel('Email').fill(TEST_ACCOUNT.email)
        await other.getByRole('button', { name: 'Sign in' }).click()
      }
      await other.getByText(`Signed in as ${TEST_ACCOUNT.email}`).waitFor()
      await other.close()

      await page.getByRole('button', { name: 'I have signed in: continue' }).click()
      await page.locator('.overlay').waitFor({ state: 'detached' })
      t.equal(await page.getByLabel('Name').inputValue(), 'made-after-expiry', 'the form is kept')
      await page.getByRole('button', { name: 'Generate token' }).click()
      await page.locator('#secret-panel').waitFor()
      t.pass('generated with the new sign-in')
      await page.getByRole('button', { name: 'I have copied it: close' }).click()
    },
    { navigatesTo: [op.issuer] },
  )
})
