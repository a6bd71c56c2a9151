import t from 'tap'
import type { Command } from '../../src/domain/commands.js'
import { SYSTEM_ACTOR } from '../../src/domain/expiry-notice.js'
import { admin, API_KEY, given, owner, stackWithTeam, tokenGenerated } from '../support/decider-spec.js'

const REPORT = { url: 'https://github.com/o/r/blob/1/a.yml', source: 'content', signed: true }
const leaked = (actor: Command['actor'] = SYSTEM_ACTOR, token_uid = 'blt1'): Command => ({ type: 'RevokeLeakedToken', actor, token_uid, report: REPORT })
const withToken = [...stackWithTeam, tokenGenerated('blt1', 'ci')]

t.test('RevokeLeakedToken', async (t) => {
  t.test('a live token > TokenRevoked, reason leaked, with the report and the owner and admins to tell', async (t) => {
    given(t, withToken).when(leaked()).then([
      { type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1', reason: 'leaked', report: REPORT, recipients: [admin.email, owner.email] } },
    ])
  })
  t.test('no role is needed, but only the service may ask > forbidden for a person, even the owner', async (t) => {
    given(t, withToken).when(leaked(owner)).thenError('forbidden')
  })
  t.test('already revoked > token-revoked (nothing appended, nothing to mail)', async (t) => {
    given(t, [...withToken, { type: 'TokenRevoked', data: { api_key: API_KEY, token_uid: 'blt1', reason: 'user' } }]).when(leaked()).thenError('token-revoked')
  })
  t.test('unknown token > token-not-found', async (t) => {
    given(t, withToken).when(leaked(SYSTEM_ACTOR, 'bltnone')).thenError('token-not-found')
  })
})
