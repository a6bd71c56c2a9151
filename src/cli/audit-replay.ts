import * as E from 'fp-ts/lib/Either.js'
import { TokensAsOf, type TokenAsOf } from '../../projections/tokens-by-stack/as-of.js'
import type { EventDecodeError } from '../domain/decode.js'
import type { EventType, Recorded } from '../domain/events.js'
import type { Scope } from '../domain/scope.js'
import type { EventStore } from '../eventstore/port.js'
import { LogReadError, readLog } from '../read/log.js'
import type { Io } from './io.js'
import { jsonLine, line, LineWriter, row } from './output.js'

export interface AuditOptions {
  stack?: string
  token?: string
  actor?: string
  type?: ReadonlySet<EventType>
  from?: number
  since?: number
  until?: number
  asOf?: number
  json?: boolean
}

const tokenOf = (r: Recorded): string | null => ('token_uid' in r.event.data ? r.event.data.token_uid : null)

const matches = (o: AuditOptions, r: Recorded): boolean => {
  if (o.stack !== undefined && r.event.data.api_key !== o.stack) return false
  if (o.token !== undefined && tokenOf(r) !== o.token) return false
  if (o.actor !== undefined && r.metadata.actor !== o.actor && r.metadata.actor_email !== o.actor) return false
  if (o.type !== undefined && !o.type.has(r.event.type)) return false
  if (o.since === undefined && o.until === undefined) return true
  const at = Date.parse(r.metadata.occurred_at)
  return (o.since === undefined || at >= o.since) && (o.until === undefined || at <= o.until)
}

/** Event data for output: never a secret, nor a secret's hash. */
export const publicData = (data: object): Record<string, unknown> =>
  Object.fromEntries(Object.entries(data).filter(([k]) => !k.endsWith('_hash') && k !== 'secret' && k !== 'token'))

export const formatScope = (scope: Scope): string =>
  scope
    .map((e) => {
      const acl = `${e.acl.read ? 'r' : ''}${e.acl.write ? 'w' : ''}`
      const refs = e.branches ?? e.branch_aliases
      return `${e.module}:${acl}${refs ? `[${refs.join(',')}]` : ''}`
    })
    .join(',')

const formatValue = (key: string, v: unknown): string => {
  if (key === 'scope' && Array.isArray(v)) return formatScope(v as Scope)
  if (key === 'rate_limit' && v && typeof v === 'object') return `${(v as { read: number }).read}r/${(v as { write: number }).write}w`
  // Quoted when it would not read as one value; row() then escapes what a terminal would act on.
  if (typeof v === 'string') return v === '' || /[\s"\\]/.test(v) ? `"${v.replace(/["\\]/g, '\\$&')}"` : v
  return JSON.stringify(v)
}

/**
 * `key=value` pairs of the event's data, minus the stack and token (they have their columns); the
 * values an update replaced read `before.scope=entry:r`, each formatted as its field is.
 */
export const details = (data: object): string =>
  Object.entries(publicData(data))
    .filter(([k]) => k !== 'api_key' && k !== 'token_uid')
    .flatMap(([k, v]) => (k === 'before' && v && typeof v === 'object' ? Object.entries(v).map(([f, was]) => `before.${f}=${formatValue(f, was)}`) : [`${k}=${formatValue(k, v)}`]))
    .join(' ')

const EVENT_WIDTHS = [8, 24, 24, 19, 19, 16]
const eventHeader = row(['POSITION', 'OCCURRED_AT', 'TYPE', 'STACK', 'TOKEN', 'ACTOR', 'DETAILS'], EVENT_WIDTHS)
const eventRow = (r: Recorded): string =>
  row(
    [String(r.position).padStart(8), r.metadata.occurred_at, r.event.type, r.event.data.api_key, tokenOf(r) ?? '-', r.metadata.actor, details(r.event.data)],
    EVENT_WIDTHS,
  )
const eventJson = (r: Recorded): string =>
  jsonLine({
    position: r.position,
    stream: r.stream,
    type: r.event.type,
    occurred_at: r.metadata.occurred_at,
    actor: r.metadata.actor,
    stack: r.event.data.api_key,
    token: tokenOf(r),
    data: publicData(r.event.data),
  })

const TOKEN_WIDTHS = [19, 19, 20, 7, 24, 8, 24, 24]
const tokenHeader = row(['UID', 'STACK', 'NAME', 'STATUS', 'EXPIRES_ON', 'LIMITS', 'LAST_CHANGED_AT', 'REVOKED_AT', 'SCOPE'], TOKEN_WIDTHS)
const tokenRow = (t: TokenAsOf): string =>
  row(
    [t.uid, t.stack, t.name, t.status, t.expires_on ?? 'never', t.rate_limit ? `${t.rate_limit.read}r/${t.rate_limit.write}w` : 'plan', t.last_changed_at, t.revoked_at ?? '-', formatScope(t.scope)],
    TOKEN_WIDTHS,
  )

const reportBad = (io: Io, e: EventDecodeError): void =>
  io.err(line(`audit: cannot decode the event at position ${e.position} (stream ${e.stream}, type ${e.type}): ${e.problems.join('; ')}`))

/**
 * Replays the log and prints the matching events, or with `asOf` the tokens' state at that
 * instant. A bad event is reported on stderr with its position and the replay goes on, so one
 * run shows every bad event; the exit code is then 1.
 */
export const audit = async (store: EventStore, o: AuditOptions, io: Io): Promise<number> => {
  const out = new LineWriter(io)
  const asOf = o.asOf === undefined ? undefined : new TokensAsOf()
  let bad = 0
  if (!o.json) await out.write(asOf ? tokenHeader : eventHeader)
  try {
    for await (const page of readLog(store, { after: o.from === undefined ? 0 : o.from - 1 })) {
      for (const item of page) {
        if (E.isLeft(item)) {
          bad += 1
          reportBad(io, item.left)
          continue
        }
        const r = item.right
        if (asOf) {
          if (Date.parse(r.metadata.occurred_at) <= (o.asOf as number)) asOf.apply(r)
          continue
        }
        if (!matches(o, r)) continue
        const wait = out.write(o.json ? eventJson(r) : eventRow(r))
        if (wait) await wait
      }
    }
  } catch (e) {
    await out.flush()
    if (!(e instanceof LogReadError)) throw e
    io.err(line(`audit: ${e.message}`))
    return 1
  }
  if (asOf) {
    for (const t of asOf.at(o.asOf as number)) {
      if ((o.stack !== undefined && t.stack !== o.stack) || (o.token !== undefined && t.uid !== o.token)) continue
      const wait = out.write(o.json ? jsonLine(t) : tokenRow(t))
      if (wait) await wait
    }
  }
  await out.flush()
  if (bad === 0) return 0
  io.err(`audit: ${bad} event(s) could not be decoded; they are missing from the output above\n`)
  return 1
}
