/**
 * Who manages a stack is decided in two places from two sources: the routes ask the read models
 * for a person's roles, the domain folds the stack's stream. Both apply the one rule of
 * src/domain/roles.ts; this checks that the two sources name the same people, after a share, a
 * role change and a transfer of ownership, and that the expiry notices go to them.
 */
import * as E from 'fp-ts/lib/Either.js'
import t from 'tap'
import { decide } from '../../src/domain/decide.js'
import type { DomainEvent } from '../../src/domain/events.js'
import { noticeRecipients } from '../../src/domain/expiry-notice.js'
import { managesStack, rolesOn } from '../../src/domain/roles.js'
import { fold } from '../../src/domain/state.js'
import { stackStream } from '../../src/eventstore/streams.js'
import { NOW, POLICY } from '../support/decider-spec.js'
import { ADMIN, CONTENT_MANAGER, DEVELOPER, OWNER, READ_ENTRIES, startApp, STRANGER, uidOf } from '../support/app.js'

const GENERATE = {
  type: 'GenerateToken',
  token_uid: 'blt1',
  secret_hash: 'h',
  name: 'n',
  description: '',
  scope: READ_ENTRIES,
  expires_on: null,
  rate_limit: null,
  is_email_notification_enabled: false,
} as const

t.test('the routes and the domain agree on who manages the stack, and say it in the same words', async (t) => {
  const a = await startApp(t)
  const apiKey = await a.createStack(OWNER)
  await a.share(apiKey, OWNER, ADMIN, ['admin'])
  await a.share(apiKey, OWNER, DEVELOPER, ['developer'])
  await a.share(apiKey, OWNER, CONTENT_MANAGER, ['content_manager', 'admin'])
  const demoted = await a.call({ method: 'PUT', url: '/v3/stacks/users/roles', as: OWNER, apiKey, body: { users: { [CONTENT_MANAGER]: ['content_manager'] } } })
  t.equal(demoted.statusCode, 200, 'the content manager is no longer an admin')
  const moved = await a.call({ method: 'POST', url: '/v3/stacks/transfer_ownership', as: OWNER, apiKey, body: { transfer_to: DEVELOPER } })
  t.equal(moved.statusCode, 200, 'the developer owns the stack; the old owner is an admin')

  const events = (await a.service.store.readStream(stackStream(apiKey))).map((e) => ({ type: e.type, data: e.data }) as DomainEvent)
  const state = fold(events)
  if (state.status !== 'active') throw new Error('the stack is not active')
  const expected: Record<string, boolean> = { [OWNER]: true, [ADMIN]: true, [DEVELOPER]: true, [CONTENT_MANAGER]: false, [STRANGER]: false }
  for (const [email, manages] of Object.entries(expected)) {
    t.equal(managesStack(rolesOn(state, email)), manages, `${email}: the domain says ${manages ? 'manager' : 'not a manager'}`)
    const listed = await a.call({ method: 'GET', url: '/v3/stacks/management_tokens', as: email, apiKey })
    const generate = { ...GENERATE, actor: { uid: uidOf(email), email } }
    const decided = decide(generate, state, { now: NOW, policy: POLICY })
    t.equal(E.isRight(decided), manages, `${email}: the domain's decision`)
    if (manages) {
      t.equal(listed.statusCode, 200, `${email}: the route lets a manager in`)
      continue
    }
    t.equal(listed.statusCode, 403, `${email}: the route refuses`)
    if (email === STRANGER || E.isRight(decided)) continue
    const route = listed.json() as { error_message: string; errors: unknown }
    t.match(route.error_message, /^Only the stack owner or an admin may /)
    t.match(decided.left.message, /^Only the stack owner or an admin may /)
    t.same(route.errors, decided.left.errors, 'the same field errors')
  }
  t.same(noticeRecipients(state), [ADMIN, DEVELOPER, OWNER].sort(), 'expiry notices go to the managers')
})
