import { Command, CommanderError, Option } from 'commander'
import { registerAudit } from './audit.js'
import { registerDeliveries } from './deliveries.js'
import { processIo, type CliContext, type Io } from './io.js'
import { registerRebuild } from './rebuild.js'
import { registerSeed } from './seed.js'

export type { Io }

/** Exit codes: 0 success, 1 a failure it explains, 2 bad usage. */
export const run = async (argv: readonly string[], io: Io = processIo()): Promise<number> => {
  let code = 0
  const ctx: CliContext = { io, exit: (c) => (code = c) }
  const program = new Command('management-tokens')
    .description('Management-token service: server, development authtokens, audit replay, rebuilds')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })

  // Every command and option is declared here and in the register* modules, which load little;
  // what a command runs is imported when it runs, so `--help` and each command load only theirs.

  program
    .command('serve')
    .description('run the HTTP service (`npm start` runs `serve --development`)')
    .option('--development', 'development defaults: DEV_SIGNIN=true unless set, NODE_ENV=production, a non-loopback HOST or a JWT setting')
    .action(async (opts: { development?: boolean }) => {
      const [{ loadConfig }, { developmentDefaults }, { serve }] = await Promise.all([import('../config.js'), import('../config-secrets.js'), import('./serve.js')])
      await serve(loadConfig(opts.development ? developmentDefaults(io.env) : io.env), io.err)
    })

  program
    .command('authtoken')
    .description('mint a development authtoken (HS256 with the local or configured secret)')
    .requiredOption('--email <email>', 'the user email')
    .option('--sub <uid>', 'the user uid (default: derived from the email, the same each time)')
    .addOption(new Option('--ttl <hours>', 'hours of validity').default('12'))
    .action(async (opts: { email: string; sub?: string; ttl: string }) => {
      const [{ loadConfig }, { developmentUid, mintAuthtoken, resolveJwtKey }, { canonicalEmail, emailProblem }] = await Promise.all([
        import('../config.js'),
        import('../http/auth.js'),
        import('../domain/email.js'),
      ])
      const config = loadConfig(io.env)
      const key = resolveJwtKey(config)
      if (!key || !('secret' in key)) {
        io.err(
          key
            ? 'authtoken: the server verifies RS256/ES256 with AUTH_JWT_PUBLIC_KEY; mint tokens with your identity provider\n'
            : "authtoken: the server verifies authtokens with the identity provider's keys only; sign in with it\n",
        )
        code = 2
        return
      }
      const hours = Number(opts.ttl)
      if (!Number.isFinite(hours) || hours <= 0) {
        io.err('authtoken: --ttl must be a positive number of hours\n')
        code = 2
        return
      }
      const problem = emailProblem(opts.email)
      if (problem !== undefined) {
        io.err(`authtoken: --email ${problem}\n`)
        code = 2
        return
      }
      const email = canonicalEmail(opts.email)
      io.out(`${mintAuthtoken(key.secret, { email, sub: opts.sub ?? developmentUid(email) }, hours * 3600_000)}\n`)
    })

  registerAudit(program, ctx)
  registerRebuild(program, ctx)
  registerSeed(program, ctx)
  registerDeliveries(program, ctx)

  try {
    await program.parseAsync(['node', 'management-tokens', ...argv])
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2
    // A ConfigError comes from a command that has loaded the configuration: this import is free then.
    const { ConfigError } = await import('../config.js')
    if (e instanceof ConfigError) {
      io.err(`${e.message}\n`)
      return 2
    }
    throw e
  }
  return code
}
