/// <reference lib="dom" />
import t from 'tap'
import { axeScan, inConsole, launchBrowser, screenshot, signIn, startConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const ADMIN = 'admin@example.com'
const DEVELOPER = 'dev@example.com'

t.test('stacks and members through the browser', async (t) => {
  const server = await startConsoleServer(t)
  const ctx = await launchBrowser(t)
  let apiKey = ''

  await t.test('stacks: none yet, create one, listed with the role', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await signIn(page, OWNER)
      await page.getByText('You belong to no stack yet.').waitFor()
      await axeScan(t, page, 'stacks (none)')
      await page.getByLabel('Name').fill('Marketing site')
      await page.getByLabel('Description (optional)').fill('The public site')
      await page.getByRole('button', { name: 'Create stack' }).click()
      await page.getByRole('heading', { name: 'Marketing site' }).waitFor()
      apiKey = /#\/stacks\/(blt[0-9a-f]{16})\/tokens$/.exec(page.url())?.[1] ?? ''
      t.match(apiKey, /^blt[0-9a-f]{16}$/, 'the new stack opens on its tokens page')
      await page.getByRole('link', { name: 'Stacks', exact: true }).click()
      const card = page.locator('.card', { hasText: 'Marketing site' })
      await card.waitFor()
      t.match(await card.innerText(), /The public site/)
      t.match(await card.innerText(), /Your role: Owner/)
      await axeScan(t, page, 'stacks')
      await screenshot(page, 'stacks')
    })
  })

  await t.test('members: share, list with roles, unshare, transfer ownership', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await signIn(page, OWNER)
      await page.getByRole('link', { name: 'Marketing site' }).click()
      await page.getByRole('link', { name: 'Members' }).click()
      await page.getByRole('heading', { name: 'Members', exact: true }).waitFor()
      const share = async (email: string, role: string) => {
        await page.getByLabel('Email').fill(email)
        await page.getByLabel('Role', { exact: true }).selectOption({ label: role })
        await page.getByRole('button', { name: 'Share', exact: true }).click()
        await page.locator('.row', { hasText: email }).waitFor()
      }
      await share(ADMIN, 'Admin')
      await share(DEVELOPER, 'Developer')
      await share('cm@example.com', 'Content manager')
      const rows = await page.getByRole('list', { name: 'Members of this stack' }).innerText()
      t.match(rows, /admin@example.com\s+Admin/)
      t.match(rows, /dev@example.com\s+Developer/)
      t.match(rows, /cm@example.com\s+Content manager/)
      t.match(rows, /owner@example.com\s+Owner/)
      t.equal(await page.getByRole('button', { name: `Remove ${OWNER}` }).count(), 0, 'the owner cannot be removed')
      await axeScan(t, page, 'members')
      await screenshot(page, 'members')

      t.equal(await page.getByRole('combobox', { name: `Role of ${OWNER}` }).count(), 0, "no role control for the owner's row")
      t.equal(await page.getByRole('button', { name: `Save the role of ${DEVELOPER}` }).isDisabled(), true, 'nothing to save until the role is changed')
      await page.getByRole('combobox', { name: `Role of ${DEVELOPER}` }).selectOption({ label: 'Content manager' })
      await page.getByRole('button', { name: `Save the role of ${DEVELOPER}` }).click()
      await page.getByRole('status').filter({ hasText: 'The roles have been successfully updated.' }).waitFor()
      t.match(await page.getByRole('list', { name: 'Members of this stack' }).innerText(), /dev@example.com\s+Content manager/)
      const changed = await server.api('GET', '/v3/stacks/members', OWNER, { apiKey })
      t.same(changed.body.members.find((m: { email: string }) => m.email === DEVELOPER)?.roles, ['content_manager'], 'changed in the service')
      await axeScan(t, page, 'members (role changed)')
      await page.getByRole('combobox', { name: `Role of ${DEVELOPER}` }).selectOption({ label: 'Developer' })
      await page.getByRole('button', { name: `Save the role of ${DEVELOPER}` }).click()
      await page.locator('.row', { hasText: DEVELOPER }).locator('.badge', { hasText: 'Developer' }).waitFor()

      await page.getByRole('button', { name: 'Remove cm@example.com' }).click()
      await page.locator('#confirm-member').getByRole('button', { name: 'Remove' }).click()
      await page.locator('.row', { hasText: 'cm@example.com' }).waitFor({ state: 'detached' })
      const members = await server.api('GET', '/v3/stacks/members', OWNER, { apiKey })
      t.notOk(members.body.members.some((m: { email: string }) => m.email === 'cm@example.com'), 'unshared in the service')

      await page.getByLabel('New owner').selectOption(ADMIN)
      await page.getByRole('button', { name: 'Transfer ownership' }).click()
      await axeScan(t, page, 'transfer confirmation')
      await page.locator('#confirm-member').getByRole('button', { name: 'Transfer' }).click()
      await page.getByText('Stack ownership transferred successfully.').waitFor()
      await page.getByText('your role: Admin').waitFor()
      t.match(await page.getByRole('list', { name: 'Members of this stack' }).innerText(), /admin@example.com\s+Owner/)
      t.equal(await page.getByRole('heading', { name: 'Transfer ownership' }).count(), 0, 'an admin is not offered the transfer')
    })
  })

  await t.test('a developer sees no token actions, and the API refuses them anyway', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await signIn(page, DEVELOPER)
      await page.getByRole('link', { name: 'Marketing site' }).click()
      await page.getByText('your role: Developer').waitFor()
      await page.getByText('Only the stack\'s owner and admins can see and manage management tokens.').waitFor()
      t.equal(await page.getByRole('button', { name: '+ Management token' }).count(), 0, 'no generate button')
      t.equal(await page.getByRole('button', { name: /^(Rotate|Revoke)/ }).count(), 0, 'no rotate or revoke')
      await axeScan(t, page, 'tokens (developer)')
      await screenshot(page, 'tokens-developer')
      await page.getByRole('link', { name: 'Members' }).click()
      await page.getByRole('heading', { name: 'Members', exact: true }).waitFor()
      t.equal(await page.getByRole('button', { name: 'Share' }).count(), 0, 'no share')
      t.equal(await page.getByRole('button', { name: /^Remove/ }).count(), 0, 'no unshare')
      t.equal(await page.getByRole('button', { name: /^Save the role/ }).count(), 0, 'no role change')
      await page.getByRole('link', { name: 'Audit log' }).click()
      await page.getByText('Only the stack\'s owner and admins can see and manage the audit log.').waitFor()
    })
    const body = { token: { name: 'sneaky', scope: [{ module: 'entry', acl: { read: true } }] } }
    for (const [method, path, b] of [
      ['POST', '/v3/stacks/management_tokens', body],
      ['GET', '/v3/stacks/management_tokens', undefined],
      ['POST', '/v3/stacks/share', { emails: ['x@example.com'], roles: { 'x@example.com': ['admin'] } }],
      ['PUT', '/v3/stacks/users/roles', { users: { [DEVELOPER]: ['admin'] } }],
      ['GET', '/v3/audit-logs', undefined],
    ] as const) {
      const res = await server.api(method, path, DEVELOPER, { apiKey, body: b })
      t.equal(res.status, 403, `${method} ${path} as a developer: 403`)
    }
  })

  await t.test('a 403 from the API is shown plainly', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      // The former owner is an admin now; demote them to developer while their page is open.
      await signIn(page, OWNER)
      await page.getByRole('link', { name: 'Marketing site' }).click()
      await page.getByRole('link', { name: 'Members' }).click()
      await page.getByLabel('Email').waitFor()
      const demoted = await server.api('PUT', '/v3/stacks/users/roles', ADMIN, { apiKey, body: { users: { [OWNER]: ['developer'] } } })
      t.equal(demoted.status, 200)
      await page.getByLabel('Email').fill('late@example.com')
      await page.getByRole('button', { name: 'Share', exact: true }).click()
      const alert = page.getByRole('alert').filter({ hasText: 'Not allowed' })
      await alert.waitFor()
      t.match(await alert.innerText(), /Not allowed: .+\(HTTP 403\)/, 'the refusal and its reason')
      await axeScan(t, page, 'members (403)')
      await screenshot(page, 'members-403')
    })
  })
})
