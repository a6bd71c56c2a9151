import t from 'tap'
import { inConsole, launchBrowser, signIn, startConsoleServer, screenshot } from '../support/console.js'

t.test('smoke', async (t) => {
  const server = await startConsoleServer(t)
  const ctx = await launchBrowser(t)
  await inConsole(t, ctx, server, async ({ page }) => {
    await signIn(page, 'owner@example.com')
    await screenshot(page, 'smoke')
  })
})
