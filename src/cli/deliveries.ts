import type { Command } from 'commander'
import type { CliContext } from './io.js'

/**
 * `management-tokens deliveries`: the outbox of this instance's data folder. `list` shows dead
 * deliveries (or those of another status); `resend` gives dead ones a fresh retry window and
 * sends them at once with the configured transports, with the same Message-ID or delivery id.
 * The work (deliveries-run.ts) is loaded when a subcommand runs.
 */
export const registerDeliveries = (program: Command, ctx: CliContext): void => {
  const cmd = program.command('deliveries').description('expiry mails and webhooks in the outbox: list dead deliveries and send them again')
  cmd
    .command('list')
    .description('list deliveries (default: dead ones)')
    .option('--status <status>', 'dead, pending or sent', 'dead')
    .option('--json', 'JSON lines instead of a table')
    .action(async (o: { status: string; json?: boolean }, c: Command) => {
      if (o.status !== 'dead' && o.status !== 'pending' && o.status !== 'sent') return c.error(`error: --status must be dead, pending or sent, not "${o.status}"`)
      const { list } = await import('./deliveries-run.js')
      list(ctx, o.status, o.json === true)
    })
  cmd
    .command('resend')
    .description('send dead deliveries again (the given ids, or all with --all)')
    .argument('[ids...]', 'delivery ids')
    .option('--all', 'every dead delivery')
    .action(async (ids: string[], o: { all?: boolean }, c: Command) => {
      if ((ids.length === 0) === !o.all) c.error('error: give delivery ids or --all, not both')
      const { resend } = await import('./deliveries-run.js')
      ctx.exit(await resend(ctx, ids, o.all === true))
    })
}
