/// <reference lib="dom" />
/**
 * /docs as a person uses it in a browser: Authorize with an authtoken, then "Try it out" on stack
 * creation answers 201 with the stack, from the example body as shown.
 */
import t from 'tap'
import { launchBrowser, startConsoleServer } from '../support/console.js'

const SECRET = 'docs-browser-test-secret-of-32-bytes-or-more'

t.test('/docs: Authorize with an authtoken, then Try it out on stack creation answers 201', async (t) => {
  const server = await startConsoleServer(t, { config: { jwtSecret: SECRET } })
  const ctx = await launchBrowser(t)
  const page = await ctx.newPage()
  const problems: string[] = []
  page.on('pageerror', (e) => void problems.push(e.message))
  await page.goto(`${server.origin}/docs/`)

  await page.locator('button.authorize').first().click()
  const scheme = page.locator('.modal-ux .auth-container').filter({ hasText: 'authtoken' })
  await scheme.locator('input').fill(server.authtoken('docs-reader@example.com'))
  await scheme.locator('button[type=submit]').click()
  await scheme.locator('button', { hasText: 'Logout' }).waitFor()
  await page.locator('.modal-ux button.btn-done').first().click()

  const op = page.locator('#operations-stacks-post_v3_stacks')
  await op.locator('.opblock-summary').first().click()
  await op.locator('button.try-out__btn').click()
  const example = JSON.parse(await op.locator('textarea.body-param__text').inputValue()) as { stack: { name: string } }
  t.equal(example.stack.name, 'Marketing site', 'the body is the documented example')
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${server.origin}/v3/stacks` && r.request().method() === 'POST'),
    op.locator('button.execute').click(),
  ])
  t.equal(response.status(), 201, 'the service answered 201')
  t.equal(response.request().headers().authtoken !== undefined, true, 'Swagger UI sent the authtoken')
  const status = op.locator('.live-responses-table tbody .response-col_status').first()
  await status.waitFor()
  t.equal((await status.innerText()).trim(), '201', 'Swagger UI shows 201')
  const body = JSON.parse(await response.text()) as { stack: { api_key: string; name: string } }
  t.equal(body.stack.name, 'Marketing site')
  const stored = await server.api('GET', '/v3/stacks', 'docs-reader@example.com', { apiKey: body.stack.api_key })
  t.equal(stored.body.stack.name, 'Marketing site', 'the stack exists, owned by the person who authorized')
  t.same(problems, [], 'no script error')
})
