import { inactiveUntilMs, lastActivityMs } from '../src/domain/inactivity.js'

/** What the inactivity sweep keeps per live token of a stack with an `inactive_days` rule (times in ms). */
export interface WatchedToken {
  readonly api_key: string
  readonly token_uid: string
  readonly inactive_days: number
  /** Creation or last rotation. */
  readonly active_since: number | null
  readonly expires_ms: number | null
  /** The running cycle's notice (by any instance): the activity it counted from and the retirement it set. */
  readonly notice_activity: number | null
  readonly notice_retire: number | null
}

export interface Due {
  readonly token: WatchedToken
  /** The last use the decision was made on (ms, or null: never used): the command carries it. */
  readonly lastUsed: number | null
}

export interface InactivityWork {
  readonly notices: readonly Due[]
  readonly retirements: readonly Due[]
  /** Per token with nothing due: the earliest moment anything can be (uses only push it later). */
  readonly quietUntil: ReadonlyMap<string, number>
}

/**
 * The sweep's decision, pure (the domain has the last word on each command): a notice is due from
 * `notifyBeforeMs` before the retirement on, once per last activity; the retirement once the
 * notice for the current last activity set its moment. An expired token is left alone until an
 * event about it (an expiry change) wakes it again.
 */
export const dueInactivity = (rows: readonly WatchedToken[], lastUsed: ReadonlyMap<string, number | null>, now: number, notifyBeforeMs: number): InactivityWork => {
  const notices: Due[] = []
  const retirements: Due[] = []
  const quietUntil = new Map<string, number>()
  for (const token of rows) {
    const used = lastUsed.get(token.token_uid) ?? null
    const activity = lastActivityMs(token.active_since, used)
    if (activity === null) continue
    const due = { token, lastUsed: used }
    if (token.notice_activity === activity && token.notice_retire !== null) {
      if (now >= token.notice_retire) retirements.push(due)
      else quietUntil.set(token.token_uid, token.notice_retire)
      continue
    }
    if (token.expires_ms !== null && token.expires_ms <= now) {
      quietUntil.set(token.token_uid, Number.POSITIVE_INFINITY)
      continue
    }
    const noticeAt = inactiveUntilMs(activity, token.inactive_days) - notifyBeforeMs
    if (now >= noticeAt) notices.push(due)
    else quietUntil.set(token.token_uid, noticeAt)
  }
  return { notices, retirements, quietUntil }
}
