import * as E from 'fp-ts/lib/Either.js'
import type { Test } from 'tap'
import type { Actor, Command, Policy } from '../../src/domain/commands.js'
import { decide } from '../../src/domain/decide.js'
import type { DomainErrorCode } from '../../src/domain/errors.js'
import type { DomainEvent } from '../../src/domain/events.js'
import { fold } from '../../src/domain/state.js'

export const NOW = new Date('2026-03-01T12:00:00.000Z')
export const POLICY: Policy = { maxTokensPerStack: 30, planReadLimit: 10, planWriteLimit: 10, maxMembersPerStack: 1000, maxEmailsPerShare: 100, maxStacksPerUser: 100 }
export const API_KEY = 'blt0000000000000001'
export const owner: Actor = { uid: 'u-owner', email: 'owner@example.com' }
export const admin: Actor = { uid: 'u-admin', email: 'admin@example.com' }
export const developer: Actor = { uid: 'u-dev', email: 'dev@example.com' }
export const stranger: Actor = { uid: 'u-x', email: 'x@example.com' }

/** given(events).when(command).then(events) | .thenError(code): the domain as specification. */
export const given = (t: Test, history: readonly DomainEvent[], options: { now?: Date; policy?: Policy; stacksCreated?: number } = {}) => ({
  when: (command: Command) => {
    const result = decide(command, fold(history), { now: options.now ?? NOW, policy: options.policy ?? POLICY, stacksCreated: options.stacksCreated })
    return {
      then: (expected: readonly DomainEvent[]) => {
        if (E.isLeft(result)) t.fail(`expected events, got ${result.left.code}: ${result.left.message}`)
        else t.same(result.right, expected)
      },
      thenError: (code: DomainErrorCode, field?: string) => {
        if (E.isRight(result)) {
          t.fail(`expected ${code}, got events ${JSON.stringify(result.right.map((e) => e.type))}`)
          return
        }
        t.equal(result.left.code, code, result.left.message)
        if (field !== undefined) t.ok(result.left.errors?.[field], `error names ${field}: ${JSON.stringify(result.left.errors)}`)
      },
      result,
    }
  },
})

export const created: DomainEvent = {
  type: 'StackCreated',
  data: { api_key: API_KEY, name: 'Site', description: '', owner_email: owner.email, owner_uid: owner.uid },
}
export const shared = (email: string, roles: string[]): DomainEvent => ({
  type: 'MemberShared',
  data: { api_key: API_KEY, email, roles },
})
export const READ_ENTRY = [{ module: 'entry', acl: { read: true, write: false } }]
export const tokenGenerated = (uid: string, name = uid, extra: Partial<Extract<DomainEvent, { type: 'TokenGenerated' }>['data']> = {}): DomainEvent => ({
  type: 'TokenGenerated',
  data: {
    api_key: API_KEY,
    token_uid: uid,
    name,
    description: '',
    scope: READ_ENTRY,
    expires_on: null,
    rate_limit: null,
    is_email_notification_enabled: false,
    secret_hash: `hash-${uid}`,
    ...extra,
  },
})
export const stackWithTeam: DomainEvent[] = [created, shared(admin.email, ['admin']), shared(developer.email, ['developer'])]

export const generate = (actor: Actor, uid: string, over: Partial<Extract<Command, { type: 'GenerateToken' }>> = {}): Command => ({
  type: 'GenerateToken',
  actor,
  token_uid: uid,
  secret_hash: `hash-${uid}`,
  name: uid,
  description: '',
  scope: READ_ENTRY,
  expires_on: null,
  rate_limit: null,
  is_email_notification_enabled: false,
  ...over,
})
