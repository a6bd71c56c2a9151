import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Actor } from './commands.js'
import { domainError, type DomainError } from './errors.js'
import { managesStack, notManager, rolesOn } from './roles.js'
import type { StackState, TokenState } from './state.js'

/** The state of a stack that exists. */
export type Active = Extract<StackState, { status: 'active' }>

export const activeStack = (state: StackState): E.Either<DomainError, Active> =>
  state.status === 'active' ? E.right(state) : E.left(domainError('stack-not-found', 'Stack not found.'))

/** Only the owner or an admin may manage, checked against the same stream revision that is appended to. */
export const asManager = (state: StackState, actor: Actor, what: string): E.Either<DomainError, Active> =>
  pipe(
    activeStack(state),
    E.filterOrElse((s) => managesStack(rolesOn(s, actor.email)), () => notManager(what)),
  )

/** The token `uid` of the stack, whether revoked or not (token-not-found when the stack never had it). */
export const knownToken = (s: Active, uid: string): E.Either<DomainError, TokenState> => {
  const t = s.tokens.get(uid)
  return t ? E.right(t) : E.left(domainError('token-not-found', 'Management token not found.', { uid: ['not found'] }))
}

export const liveToken = (s: Active, uid: string): E.Either<DomainError, TokenState> =>
  pipe(
    knownToken(s, uid),
    // A revoked token is gone for its callers: answered like an unknown one, on every route but
    // rotate (src/domain/rotation.ts), which names the reason.
    E.filterOrElse(
      (t) => !t.revoked,
      () => domainError('token-revoked', 'Management token not found.', { uid: ['not found'] }),
    ),
  )
