import { randomUUID } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import type { FastifyBaseLogger } from 'fastify'
import type { LeakReport } from '../../domain/events.js'
import { SYSTEM_ACTOR } from '../../domain/expiry-notice.js'
import type { CommandHandler } from '../../write/handle-command.js'
import type { LeakNotices } from '../deps.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The revocations leaked-secret reports asked for (tests await `idle()`). */
    readonly leakedSecrets: LeakRevocations
  }
}

/** A token to revoke because a live secret of it was reported. */
export interface LeakedToken {
  readonly apiKey: string
  readonly tokenUid: string
  readonly report: LeakReport
}

/**
 * The revocations that reports asked for, run one after another once the report is answered, so
 * that the answer cannot tell a known secret from an unknown one by its timing. Each goes through
 * the command path (RevokeLeakedToken); the mail to the stack's owner and admins is announced to
 * the reactor under the event's id first, so that exactly this instance sends it. `idle` resolves
 * when every revocation asked for so far is done (closing the app waits for it).
 */
export class LeakRevocations {
  private tail: Promise<void> = Promise.resolve()

  constructor(
    private readonly handle: CommandHandler,
    private readonly notices: LeakNotices | undefined,
    private readonly logger: FastifyBaseLogger,
  ) {}

  add(tokens: readonly LeakedToken[], context: { readonly requestId: string; readonly remoteAddr: string }): void {
    if (tokens.length === 0) return
    this.tail = this.tail.then(async () => {
      for (const t of tokens) await this.revoke(t, context)
    })
  }

  idle(): Promise<void> {
    return this.tail
  }

  private async revoke(t: LeakedToken, context: { readonly requestId: string; readonly remoteAddr: string }): Promise<void> {
    const id = randomUUID()
    this.notices?.intend(id, t.apiKey, t.tokenUid)
    try {
      const result = await this.handle(t.apiKey, { type: 'RevokeLeakedToken', actor: SYSTEM_ACTOR, token_uid: t.tokenUid, report: t.report }, { ...context, eventIds: [id] })
      if (E.isLeft(result)) {
        // Revoked meanwhile (by a person, or an earlier report): nothing to do, nothing to mail.
        this.notices?.drop(id)
        this.logger.debug({ token_uid: t.tokenUid, code: result.left.code }, 'leaked token not revoked')
      } else this.logger.warn({ token_uid: t.tokenUid, api_key: t.apiKey, url: t.report.url, source: t.report.source }, 'token revoked: its secret was reported leaked')
    } catch (err) {
      // The store may or may not hold the event; the intent stays until the stream tells.
      this.logger.error({ err, token_uid: t.tokenUid, api_key: t.apiKey }, 'a token reported leaked could not be revoked; revoke it (DELETE) or report it again')
    }
  }
}
