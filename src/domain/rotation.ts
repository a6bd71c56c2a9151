import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { DecideContext, EndRotationGrace, RotateToken } from './commands.js'
import { domainError, type DomainError } from './errors.js'
import type { DomainEvent } from './events.js'
import { asManager, knownToken, liveToken } from './guards.js'
import { hasExpired, validateGrace } from './rules.js'
import type { StackState, TokenState } from './state.js'
import { outlives, type StackPolicy } from './token-policy.js'

type Decision = E.Either<DomainError, DomainEvent[]>

/** Whether a rotation grace runs at `now`: the rotated-out secrets work until `graceUntil`, excluded. */
export const graceRunning = (graceUntil: string | null, now: Date): boolean => graceUntil !== null && Date.parse(graceUntil) > now.getTime()

/**
 * Only a token that works may be rotated: a new secret for a revoked or expired token, or for one
 * that outlives its stack's policy, would work nowhere while the caller believes it does. Refused
 * with the field at fault: the uid for a revoked token, the expiry for an expired or outliving one
 * (editing it is the way out).
 */
const rotatable = (t: TokenState, now: Date, policy: StackPolicy): E.Either<DomainError, TokenState> => {
  if (t.revoked)
    return E.left(domainError('validation', 'A revoked management token cannot be rotated.', { uid: ['is revoked: a revoked token cannot be rotated'] }))
  if (hasExpired(t.expires_on, now))
    return E.left(
      domainError('validation', `The management token expired at ${t.expires_on} and cannot be rotated; extend its expiry first.`, {
        expires_on: [`expired at ${t.expires_on}: an expired token cannot be rotated`],
      }),
    )
  const max = policy.max_lifetime_days
  if (outlives(max, t.created_at === null ? now.getTime() : Date.parse(t.created_at), t.expires_on === null ? null : Date.parse(t.expires_on)))
    return E.left(
      domainError('validation', `The management token outlives the stack policy's maximum lifetime of ${max} days and cannot be rotated; edit its expiry first.`, {
        expires_on: [`outlives the stack policy (max_lifetime_days ${max}): a token refused at use cannot be rotated`],
      }),
    )
  return E.right(t)
}

export const decideRotation = (cmd: RotateToken, state: StackState, ctx: DecideContext): Decision =>
  pipe(
    asManager(state, cmd.actor, 'rotate management tokens'),
    E.chain((s) =>
      pipe(
        knownToken(s, cmd.token_uid),
        E.chain((t) => rotatable(t, ctx.now, s.policy)),
        E.chain((t) =>
          pipe(
            validateGrace(cmd.previous_expires_in_seconds ?? s.policy.default_rotation_grace_seconds ?? 0),
            E.map((grace): DomainEvent[] => [
              {
                type: 'TokenRotated',
                data: {
                  api_key: s.api_key,
                  token_uid: t.uid,
                  secret_hash: cmd.secret_hash,
                  previous_secret_hash: t.secret_hash,
                  previous_expires_at: new Date(ctx.now.getTime() + grace * 1000).toISOString(),
                },
              },
            ]),
          ),
        ),
      ),
    ),
  )

/** Ends the running grace: refused (with the field at fault) when none runs, so a repeat appends nothing. */
export const decideEndGrace = (cmd: EndRotationGrace, state: StackState, ctx: DecideContext): Decision =>
  pipe(
    asManager(state, cmd.actor, 'end rotation graces'),
    E.chain((s) =>
      pipe(
        liveToken(s, cmd.token_uid),
        E.chain((t): Decision =>
          t.grace_until !== null && graceRunning(t.grace_until, ctx.now)
            ? E.right([{ type: 'RotationGraceEnded', data: { api_key: s.api_key, token_uid: t.uid, previous_expires_at: t.grace_until } }])
            : E.left(
                domainError('validation', 'No rotation grace is running for this management token: its previous secret already stopped working.', {
                  previous_secret: ['no rotation grace is running'],
                }),
              ),
        ),
      ),
    ),
  )
