import t from 'tap'
import { renderInactivityNotice } from '../../reactors/inactivity-mail.js'
import { dueInactivity, type WatchedToken } from '../../reactors/inactivity-schedule.js'
import { API_KEY, NOW } from '../support/decider-spec.js'

const DAY = 86_400_000
const WEEK = 7 * DAY
const T0 = NOW.getTime()
const day = (n: number) => T0 + n * DAY
const row = (over: Partial<WatchedToken> = {}): WatchedToken => ({
  api_key: API_KEY,
  token_uid: 'blt1',
  inactive_days: 30,
  active_since: day(0),
  expires_ms: null,
  notice_activity: null,
  notice_retire: null,
  ...over,
})
const due = (r: WatchedToken, now: number, lastUsed: number | null = null) => dueInactivity([r], new Map([[r.token_uid, lastUsed]]), now, WEEK)
const kinds = (w: ReturnType<typeof due>) => ({ notices: w.notices.length, retirements: w.retirements.length, quiet: w.quietUntil.get('blt1') })

t.test('dueInactivity: the notice a week before the retirement, the retirement at the noticed moment', async (t) => {
  t.same(kinds(due(row(), day(23) - 1)), { notices: 0, retirements: 0, quiet: day(23) }, 'quiet until the notice moment')
  t.same(kinds(due(row(), day(23))), { notices: 1, retirements: 0, quiet: undefined }, 'a never-used token: from its creation')
  t.same(kinds(due(row(), day(23), day(10))), { notices: 0, retirements: 0, quiet: day(33) }, 'a use moves the moment')
  t.same(due(row(), day(40), day(5)).notices[0]?.lastUsed, day(5), 'the command carries the use it was decided on')
  const noticed = row({ notice_activity: day(0), notice_retire: day(30) })
  t.same(kinds(due(noticed, day(29))), { notices: 0, retirements: 0, quiet: day(30) }, 'noticed: quiet until the announced moment')
  t.same(kinds(due(noticed, day(30))), { notices: 0, retirements: 1, quiet: undefined }, 'then retired')
  t.same(kinds(due(noticed, day(30), day(25))), { notices: 0, retirements: 0, quiet: day(48) }, 'a use after the notice: a new cycle')
  t.same(kinds(due(row({ expires_ms: day(20) }), day(23))), { notices: 0, retirements: 0, quiet: Infinity }, 'an expired token is left alone')
  t.same(kinds(due(row({ active_since: null }), day(100))), { notices: 0, retirements: 0, quiet: undefined }, 'no known activity: nothing')
})

t.test('the notice mail names the token and the moment, escapes names, holds no secret', async (t) => {
  const mail = renderInactivityNotice({
    eventId: 'e1',
    occurredAt: new Date(day(23)).toISOString(),
    apiKey: API_KEY,
    stackName: 'Site\nBcc: x@example.com',
    tokenUid: 'blt1',
    tokenName: 'idle',
    lastActivityAt: new Date(day(0)).toISOString(),
    inactiveDays: 30,
    retireAt: new Date(day(30)).toISOString(),
    recipients: ['owner@example.com'],
  })
  t.equal(mail.messageId, '<inactivity-notice.e1@management-tokens>')
  t.notMatch(mail.subject, /\n/, 'a line feed in a name stays escaped')
  t.match(mail.text, new Date(day(30)).toISOString())
  t.match(mail.text, /reason inactive/)
  t.notMatch(mail.text + mail.subject, /cs[0-9a-f]{32}/, 'no secret')
})
