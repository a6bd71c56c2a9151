/// <reference lib="dom" />
import t from 'tap'
import { AUDIT_EVENT_TYPES, AUDIT_MODULES } from '../../src/domain/audit.js'
import { START } from '../support/app.js'
import { axeScan, inConsole, launchBrowser, screenshot, signIn, startConsoleServer } from '../support/console.js'

const OWNER = 'owner@example.com'
const ADMIN = 'admin@example.com'
const HOUR = 3600_000
const READ = [{ module: 'entry', acl: { read: true } }]
const WRITE = [{ module: 'entry', acl: { read: true, write: true } }]

t.test('audit log and as-of view through the browser', async (t) => {
  const server = await startConsoleServer(t, { clock: START })
  const clock = server.clock!
  const ctx = await launchBrowser(t)
  const call = async (method: string, path: string, as: string, apiKey?: string, body?: unknown) => {
    const res = await server.api(method, path, as, { apiKey, body })
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body
  }
  // 1 March 12:00 stack; 13:00 admin shared; 14:00 alpha (writes entries); 2 March beta (reads, by the admin);
  // 3 March alpha rotated; 4 March beta revoked; then 24 short-lived tokens (48 entries) on 5 March.
  const apiKey = (await call('POST', '/v3/stacks', OWNER, undefined, { stack: { name: 'Audited' } })).stack.api_key as string
  clock.advance(HOUR)
  await call('POST', '/v3/stacks/share', OWNER, apiKey, { emails: [ADMIN], roles: { [ADMIN]: ['admin'] } })
  clock.advance(HOUR)
  const alpha = (await call('POST', '/v3/stacks/management_tokens', OWNER, apiKey, { token: { name: 'alpha', scope: WRITE } })).token.uid
  clock.set(new Date('2026-03-02T09:00:00.000Z'))
  const beta = (await call('POST', '/v3/stacks/management_tokens', ADMIN, apiKey, { token: { name: 'beta', scope: READ } })).token.uid
  clock.set(new Date('2026-03-03T09:00:00.000Z'))
  await call('POST', `/v3/stacks/management_tokens/${alpha}/rotate`, OWNER, apiKey, {})
  clock.set(new Date('2026-03-04T09:00:00.000Z'))
  await call('DELETE', `/v3/stacks/management_tokens/${beta}`, OWNER, apiKey)
  clock.set(new Date('2026-03-05T09:00:00.000Z'))
  for (let i = 0; i < 24; i += 1) {
    clock.advance(60_000)
    const uid = (await call('POST', '/v3/stacks/management_tokens', OWNER, apiKey, { token: { name: `batch-${i}`, scope: READ } })).token.uid
    await call('DELETE', `/v3/stacks/management_tokens/${uid}`, OWNER, apiKey)
  }
  const TOTAL = 6 + 48

  await t.test('newest first, pages, filters by module, event type, actor and time range', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await signIn(page, OWNER)
      await page.getByRole('link', { name: 'Audited' }).click()
      await page.getByRole('link', { name: 'Audit log' }).click()
      const status = page.getByRole('status').filter({ hasText: 'newest first' })
      await status.waitFor()
      t.match(await status.innerText(), new RegExp(`${TOTAL} entries, newest first · page 1 of 3`))
      const rows = page.locator('table.stacked tbody tr')
      t.equal(await rows.count(), 25, 'a page of 25')
      const times = await rows.locator('td[data-label="When"]').allInnerTexts()
      t.same([...times].sort().reverse(), times, 'newest first')
      t.match(await rows.first().innerText(), /batch-23/)
      await axeScan(t, page, 'audit log')
      await screenshot(page, 'audit')

      await page.getByRole('button', { name: 'Next page' }).click()
      await page.getByText('page 2 of 3').waitFor()
      await page.getByRole('button', { name: 'Next page' }).click()
      await page.getByText('page 3 of 3').waitFor()
      // The pager's label can change before the page's rows arrive: wait for the rows themselves.
      await page.waitForFunction(([selector, n]) => document.querySelectorAll(selector as string).length === n, ['table.stacked tbody tr', TOTAL - 50] as const)
      t.equal(await rows.count(), TOTAL - 50, 'the last page holds the rest')
      t.match(await rows.last().innerText(), /stack\s+create\s+Audited/, 'the oldest entry last')
      t.ok(await page.getByRole('button', { name: 'Next page' }).isDisabled(), 'no page after the last')
      await page.getByRole('button', { name: 'Previous page' }).click()
      await page.getByText('page 2 of 3').waitFor()

      const optionsOf = async (label: string) => (await page.getByLabel(label).locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).filter(Boolean)
      t.same(await optionsOf('Event type'), AUDIT_EVENT_TYPES, "the console offers the service's event types, no other")
      t.same(await optionsOf('Module'), AUDIT_MODULES, "and the service's modules")

      const apply = async () => {
        await page.getByRole('button', { name: 'Apply filters' }).click()
        await page.getByText(/page 1 of/).waitFor()
      }
      await page.getByLabel('Event type').selectOption('rotate')
      await apply()
      await page.getByText('1 entry, newest first').waitFor()
      t.match(await rows.innerText(), /u-owner\s+management_token\s+rotate\s+alpha/)

      await page.getByLabel('Event type').selectOption('')
      await page.getByLabel('Module').selectOption('stack')
      await apply()
      await page.getByText('2 entries, newest first').waitFor()
      t.same(await rows.locator('td[data-label="Event"]').allInnerTexts(), ['share', 'create'])

      await page.getByLabel('Module').selectOption('')
      await page.getByLabel('Actor (user uid)').fill('u-admin')
      await apply()
      await page.getByText('1 entry, newest first').waitFor()
      t.match(await rows.innerText(), /u-admin\s+management_token\s+create\s+beta/)

      await page.getByLabel('Actor (user uid)').fill('')
      await page.getByLabel('From (UTC)').fill('2026-03-02T00:00')
      await page.getByLabel('To (UTC)').fill('2026-03-04T23:59')
      await apply()
      await page.getByText('3 entries, newest first').waitFor()
      t.same(await rows.locator('td[data-label="Event"]').allInnerTexts(), ['delete', 'rotate', 'create'], 'only 2 to 4 March')

      await page.getByRole('button', { name: 'Clear' }).click()
      await page.getByText(`${TOTAL} entries, newest first · page 1 of 3`).waitFor()
    })
  })

  await t.test('as of an instant: every token then, and who could write', async (t) => {
    await inConsole(t, ctx, server, async ({ page }) => {
      await signIn(page, OWNER)
      await page.getByRole('link', { name: 'Audited' }).click()
      await page.getByRole('link', { name: 'As of' }).click()
      await page.getByRole('button', { name: 'Show tokens then' }).click()
      t.match(await page.locator('#asof-at-error').innerText(), /Choose a date and time/, 'an instant is needed')

      await page.getByLabel('Instant (UTC)').fill('2026-03-02T12:00')
      await page.getByRole('button', { name: 'Show tokens then' }).click()
      const summary = page.getByRole('status').filter({ hasText: 'As of' })
      await summary.waitFor()
      t.match(await summary.innerText(), /As of 2026-03-02 12:00 UTC: 2 token\(s\); 1 active with write access \(alpha\)/)
      const rows = page.locator('table.stacked tbody tr')
      t.match(await rows.filter({ hasText: 'alpha' }).innerText(), /Active.*Read and write: Entries/s)
      t.match(await rows.filter({ hasText: 'beta' }).innerText(), /Active.*Read: Entries/s)
      await axeScan(t, page, 'as of')
      await screenshot(page, 'as-of')

      await page.getByLabel('Instant (UTC)').fill('2026-03-04T12:00')
      await page.getByRole('button', { name: 'Show tokens then' }).click()
      await page.getByRole('status').filter({ hasText: 'As of 2026-03-04 12:00 UTC' }).waitFor()
      t.match(await rows.filter({ hasText: 'beta' }).innerText(), /Revoked on 2026-03-04 09:00 UTC/)

      await page.getByLabel('Instant (UTC)').fill('2026-03-01T12:30')
      await page.getByRole('button', { name: 'Show tokens then' }).click()
      await page.getByRole('status').filter({ hasText: 'As of 2026-03-01 12:30 UTC: 0 token(s)' }).waitFor()
      t.equal(await rows.count(), 0, 'before the first token, none')
    })
  })
})

t.test('audit log: what each update changed, why a token was revoked, and an empty result said so', async (t) => {
  const server = await startConsoleServer(t, { clock: START })
  const ctx = await launchBrowser(t)
  const call = async (method: string, path: string, apiKey?: string, body?: unknown) => {
    const res = await server.api(method, path, OWNER, { apiKey, body })
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body
  }
  const apiKey = (await call('POST', '/v3/stacks', undefined, { stack: { name: 'Changes' } })).stack.api_key as string
  const uid = (await call('POST', '/v3/stacks/management_tokens', apiKey, { token: { name: 'ci', scope: READ, rate_limit: { read: 10, write: 10 } } })).token.uid
  const put = (token: object) => call('PUT', `/v3/stacks/management_tokens/${uid}`, apiKey, { token })
  await put({ rate_limit: { read: 5, write: 10 } })
  await put({ allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] })
  await put({ name: 'ci-2', scope: WRITE, expires_on: '2026-04-01' })
  await call('DELETE', `/v3/stacks/management_tokens/${uid}`, apiKey)
  const leaky = (await call('POST', '/v3/stacks/management_tokens', apiKey, { token: { name: 'leaky', scope: READ } })).token
  const reported = await server.api('POST', '/v3/leaked-secrets', OWNER, { body: [{ token: leaky.token, type: 't', url: 'https://github.com/o/r/blob/1/a.yml', source: 'commit' }] })
  if (reported.status !== 202) throw new Error(`leaked-secrets: ${reported.status}`)
  await server.app.leakedSecrets.idle()

  await inConsole(t, ctx, server, async ({ page }) => {
    await signIn(page, OWNER)
    await page.getByRole('link', { name: 'Changes' }).click()
    await page.getByRole('link', { name: 'Audit log' }).click()
    await page.getByRole('status').filter({ hasText: '10 entries, newest first' }).waitFor()
    const changes = await page.locator('table.stacked tbody td[data-label="Change"]').allInnerTexts()
    t.same(
      changes,
      [
        'reason: leaked (reported at https://github.com/o/r/blob/1/a.yml, commit, unsigned)',
        '',
        'reason: user',
        'expiry: never -> 2026-04-01 00:00 UTC',
        'scope: Read: Entries -> Read and write: Entries',
        'name: "ci" -> "ci-2"',
        'allowed addresses: any -> 10.0.0.0/8, 2001:db8::/32',
        'limits: read 10 -> 5',
        '',
        '',
      ],
      'each entry says what it changed, newest first',
    )
    await axeScan(t, page, 'audit log (changes)')
    await screenshot(page, 'audit-changes')

    await page.getByLabel('Event type').selectOption('end_rotation_grace')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.getByText('No audit entries match these filters.').waitFor()
    t.equal(await page.locator('table.stacked').count(), 0, 'no empty table')
    t.match(await page.getByRole('status').filter({ hasText: 'newest first' }).innerText(), /^0 entries/)
  })
})
