import { createDecoder } from 'fast-jwt'
import t from 'tap'
import { run, type Io } from '../../src/cli/main.js'
import { startApp } from '../support/app.js'

t.test("one email is one development user: the CLI's authtoken and the console's sign-in give the same uid", async (t) => {
  const a = await startApp(t, { config: { jwtSecret: undefined, devSignIn: true } })
  const minted = async (email: string) => {
    const out: string[] = []
    const io: Io = { out: (s) => void out.push(s), err: (s) => t.fail(s), env: { DATA_DIR: a.dataDir } }
    t.equal(await run(['authtoken', '--email', email], io), 0)
    const authtoken = out.join('').trim()
    return { authtoken, uid: (createDecoder()(authtoken) as { sub: string }).sub }
  }
  const signedIn = async (email: string) => {
    const res = await a.call({ method: 'POST', url: '/v3/user-session', body: { user: { email } } })
    t.equal(res.statusCode, 200, 'signed in')
    return res.json().user as { uid: string; authtoken: string }
  }

  for (const email of ['me@example.com', ' Me@Example.com ']) {
    const cli = await minted(email)
    const session = await signedIn(email)
    t.match(cli.uid, /^blt[0-9a-f]{16}$/)
    t.equal(cli.uid, session.uid, `${JSON.stringify(email)}: one uid`)
  }
  t.not((await minted('you@example.com')).uid, (await signedIn('me@example.com')).uid, 'another email, another user')

  // The same person on /v3: a stack created with the CLI's authtoken is the console user's own.
  const cli = await minted('me@example.com')
  const created = await a.call({ method: 'POST', url: '/v3/stacks', headers: { authtoken: cli.authtoken }, body: { stack: { name: 'Mine' } } })
  t.equal(created.statusCode, 201, 'the CLI\'s authtoken works on /v3')
  const listed = await a.call({ method: 'GET', url: '/v3/stacks', headers: { authtoken: (await signedIn('me@example.com')).authtoken } })
  t.same(listed.json().stacks.map((s: { name: string; role: string }) => [s.name, s.role]), [['Mine', 'owner']])
})
