import { InvalidArgumentError, type Command } from 'commander'
import { AUDIT_KIND, EVENT_NAMES } from '../../projections/audit-log/kinds.js'
import type { EventType } from '../domain/events.js'
import type { AuditOptions } from './audit-replay.js'
import type { CliContext } from './io.js'
import { parseInstant, parseInteger } from './options.js'
import { withConfiguredStore } from './with-store.js'

const AUDIT_TYPES = [...new Set(Object.values(AUDIT_KIND).map((k) => k.event_type))]

/** `--type`: audit-log event types (create, update, ...) or event names (TokenRevoked), comma-separated. */
export const parseTypes = (value: string): ReadonlySet<EventType> => {
  const out = new Set<EventType>()
  for (const v of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const byAudit = EVENT_NAMES.filter((t) => AUDIT_KIND[t].event_type === v)
    if (byAudit.length > 0) byAudit.forEach((t) => out.add(t))
    else if ((EVENT_NAMES as readonly string[]).includes(v)) out.add(v as EventType)
    else throw new InvalidArgumentError(`unknown event type "${v}"; use one of ${AUDIT_TYPES.join(', ')} or an event name (${EVENT_NAMES.join(', ')})`)
  }
  if (out.size === 0) throw new InvalidArgumentError('expected at least one event type')
  return out
}

/** `audit`: its options here; the replay (audit-replay.ts) is loaded when it runs. */
export const registerAudit = (program: Command, ctx: CliContext): void => {
  program
    .command('audit')
    .description('replay the event log: decode every event, filter, print a table or JSON lines; --as-of prints every token as it stood then')
    .option('--stack <api_key>', 'only this stack')
    .option('--token <uid>', 'only this token')
    .option('--actor <uid>', 'only events by this user (uid or email)')
    .option('--type <types>', `audit event types (${AUDIT_TYPES.join(', ')}) or event names (e.g. TokenRevoked), comma-separated`, parseTypes)
    .option('--from <position>', 'start at this log position (inclusive)', parseInteger(1))
    .option('--since <iso>', 'only events that occurred at or after this instant (a date means 00:00 UTC)', parseInstant)
    .option('--until <iso>', 'only events that occurred at or before this instant', parseInstant)
    .option('--as-of <iso>', 'print each token (name, scope, limits, expiry, status) as it stood at this instant', parseInstant)
    .option('--json', 'JSON lines instead of a table')
    .action(async (o: AuditOptions, cmd: Command) => {
      if (o.asOf !== undefined) {
        const clash = ['actor', 'type', 'from', 'since', 'until'].filter((k) => o[k as keyof AuditOptions] !== undefined)
        if (clash.length > 0) cmd.error(`error: --as-of folds the whole log; it takes --stack and --token, not ${clash.map((k) => `--${k}`).join(', ')}`)
      }
      const { audit } = await import('./audit-replay.js')
      ctx.exit(await withConfiguredStore(ctx.io.env, (store) => audit(store, o, ctx.io)))
    })
}
