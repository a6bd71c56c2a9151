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

/** `deliveries list`: the outbox's deliveries of one status. */
export const list = (ctx: CliContext, status: Delivery['status'], asJson: boolean): void => {
  const config = loadConfig(ctx.io.env)
  const db = openReactorDb(config.dataDir)
  try {
    const rows = new Outbox(db).list(status)
    ctx.io.out(asJson ? rows.map(json).join('') : header + rows.map(line).join(''))
  } finally {
    db.close()
  }
}

/** `deliveries resend`: dead deliveries get a fresh retry window and are sent at once. */
export const resend = async (ctx: CliContext, ids: readonly string[], all: boolean): Promise<number> => {
  const config = loadConfig(ctx.io.env)
  const db = openReactorDb(config.dataDir)
  const outbox = new Outbox(db)
  const mail = mailTransportFor(config)
  const dispatcher = new Dispatcher({ outbox, mail, webhook: webhookTransportFor(config), clock: () => new Date(), logger: pino({ level: 'silent' }) })
  try {
    const wanted = all ? outbox.list('dead').map((d) => d.id) : ids
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
    return failed === 0 ? 0 : 1
  } finally {
    mail.close()
    db.close()
  }
}
