import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { RevokeLeakedToken } from './commands.js'
import { domainError, type DomainError } from './errors.js'
import type { DomainEvent } from './events.js'
import { noticeRecipients, SYSTEM_ACTOR } from './expiry-notice.js'
import { activeStack, liveToken } from './guards.js'
import type { StackState } from './state.js'

/**
 * A leaked secret's token is revoked (reason `leaked`, with the report) and its stack's owner and
 * admins, named in the event, are told. No role is checked: holding a live secret of the token is
 * what allows it, and the route found the token from the secret. A token revoked meanwhile is
 * refused like any revoked token (the report then changes nothing).
 */
export const decideLeakRevocation = (cmd: RevokeLeakedToken, state: StackState): E.Either<DomainError, DomainEvent[]> =>
  cmd.actor.uid !== SYSTEM_ACTOR.uid
    ? E.left(domainError('forbidden', 'Only the service revokes leaked tokens.', { authtoken: ['is not the service'] }))
    : pipe(
        activeStack(state),
        E.chain((s) => pipe(liveToken(s, cmd.token_uid), E.map((t) => ({ s, t })))),
        E.map(({ s, t }): DomainEvent[] => [
          { type: 'TokenRevoked', data: { api_key: s.api_key, token_uid: t.uid, reason: 'leaked', report: cmd.report, recipients: noticeRecipients(s) } },
        ]),
      )
