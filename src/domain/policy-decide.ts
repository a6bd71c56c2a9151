import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { SetPolicy } from './commands.js'
import { domainError, type DomainError } from './errors.js'
import type { DomainEvent } from './events.js'
import { activeStack } from './guards.js'
import type { StackState } from './state.js'
import { applyPolicy, expiryAgainstPolicy, policyChanges, type StackPolicy } from './token-policy.js'

type Decision = E.Either<DomainError, DomainEvent[]>

/** The policy's verdict on a token's expiry as an Either, for the token decisions' pipelines. */
export const expiryWithinPolicy = (policy: StackPolicy, createdMs: number, expiresOn: string | null): E.Either<DomainError, void> => {
  const refusal = expiryAgainstPolicy(policy, createdMs, expiresOn)
  return refusal ? E.left(refusal) : E.right(undefined)
}

export const notPolicyOwner: DomainError = domainError('forbidden', 'Only the stack owner may change the management token policy.', {
  authtoken: ['is not the stack owner'],
})

/**
 * Only the owner sets the policy (admins read it). One StackPolicySet with the whole new policy
 * and the one it replaced; none when nothing changes, so a repeated PUT appends nothing.
 */
export const decideSetPolicy = (cmd: SetPolicy, state: StackState): Decision =>
  pipe(
    activeStack(state),
    E.filterOrElse(
      (s) => s.owner_email === cmd.actor.email,
      () => notPolicyOwner,
    ),
    E.chain((s) =>
      pipe(
        applyPolicy(s.policy, cmd.policy),
        E.map((policy): DomainEvent[] =>
          policyChanges(s.policy, policy).length === 0 ? [] : [{ type: 'StackPolicySet', data: { api_key: s.api_key, policy, before: s.policy } }],
        ),
      ),
    ),
  )
