import type { Command } from 'commander'
import { pino } from 'pino'
import { loadConfig } from '../config.js'
import { Dispatcher } from '../react/dispatch.js'
import { mailTransportFor, openReactorDb, webhookTransportFor } from '../react/index.js'
import { Outbox, type Delivery } from '../react/outbox.js'
import type { CliContext } from './io.js'
import { jsonLine, line as textLine, row } from './output.js'

const WIDTHS = [36, 8, 8, 22, 19, 8, 24]
const header = row(['ID', 'CHANNEL', 'STATUS', 'KIND', 'STACK', 'ATTEMPTS', 'CREATED_AT', 'LAST_ERROR'], WIDTHS)
const line = (d: Delivery) =>
  row([d.id, d.channel, d.status, d.kind, d.stack, String(d.attempts), new Date(d.created_at).toISOString(), d.last_error ?? '-'], WIDTHS)
const json = (d: Delivery) =>
  jsonLine({ id: d.id, channel: d.channel, status: d.status, kind: d.kind, stack: d.stack, attempts: d.attempts, created_at: new Date(d.created_at).toISOString(), last_error: d.last_error })

/**
 * `management-tokens deliveries`: the outbox of this instance's data folder. `list` shows dead
 * deliveries (or those of another status); `resend` gives dead ones a fresh retry window and
 * sends them at once with the configured transports, with the same Message-ID or delivery id.
 */
export const registerDeliveries = (program: Command, ctx: CliContext): void => {
  const cmd = program.command('deliveries').description('expiry mails and webhooks in the outbox: list dead deliveries and send them again')
  cmd
    .command('list')
    .description('list deliveries (default: dead ones)')
    .option('--status <status>', 'dead, pending or sent', 'dead')
    .option('--json', 'JSON lines instead of a table')
    .action((o: { status: string; json?: boolean }, c: Command) => {
      if (!['dead', 'pending', 'sent'].includes(o.status)) c.error(`error: --status must be dead, pending or sent, not "${o.status}"`)
      const config = loadConfig(ctx.io.env)
      const db = openReactorDb(config.dataDir)
      try {
        const rows = new Outbox(db).list(o.status as Delivery['status'])
        ctx.io.out(o.json ? rows.map(json).join('') : header + rows.map(line).join(''))
      } finally {
        db.close()
      }
    })
  cmd
    .command('resend')
    .description('send dead deliveries again (the given ids, or all with --all)')
    .argument('[ids...]', 'delivery ids')
    .option('--all', 'every dead delivery')
    .action(async (ids: string[], o: { all?: boolean }, c: Command) => {
      if ((ids.length === 0) === !o.all) c.error('error: give delivery ids or --all, not both')
      const config = loadConfig(ctx.io.env)
      const db = openReactorDb(config.dataDir)
      const outbox = new Outbox(db)
      const mail = mailTransportFor(config)
      const dispatcher = new Dispatcher({ outbox, mail, webhook: webhookTransportFor(config), clock: () => new Date(), logger: pino({ level: 'silent' }) })
      try {
        const wanted = o.all ? outbox.list('dead').map((d) => d.id) : ids
        let failed = 0
        for (const id of wanted) {
          if (!outbox.revive(id, Date.now())) {
            ctx.io.err(textLine(`deliveries: ${id} is not a dead delivery`))
            failed += 1
            continue
          }
          const outcome = await dispatcher.attempt(outbox.get(id) as Delivery)
          const after = outbox.get(id) as Delivery
          ctx.io.out(textLine(`${id}  ${outcome}${outcome === 'delivered' ? '' : `  ${after.last_error ?? ''} (pending again: the service retries it)`}`))
          if (outcome !== 'delivered') failed += 1
        }
        ctx.exit(failed === 0 ? 0 : 1)
      } finally {
        mail.close()
        db.close()
      }
    })
}
