import { escapeControls } from '../src/domain/plain-text.js'
import type { NoticeMail } from './expiry-mail.js'

export interface InactivityFacts {
  readonly eventId: string
  readonly occurredAt: string
  readonly apiKey: string
  readonly stackName: string
  readonly tokenUid: string
  readonly tokenName: string
  readonly lastActivityAt: string
  readonly inactiveDays: number
  readonly retireAt: string
  readonly recipients: readonly string[]
}

/** Stable per notice: a retry after a crash is the same message. */
export const inactivityMessageId = (eventId: string): string => `<inactivity-notice.${eventId}@management-tokens>`

const readable = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`

/**
 * The notice before a token is retired for lack of use: which token, since when it counts as
 * unused, when it will be revoked, and how to keep it. Never a secret. Names are escaped
 * (src/domain/plain-text.ts), as in the other notices.
 */
export const renderInactivityNotice = (facts: InactivityFacts): NoticeMail => {
  const [tokenName, stackName, tokenUid, apiKey] = [facts.tokenName, facts.stackName, facts.tokenUid, facts.apiKey].map(escapeControls) as [string, string, string, string]
  return {
    messageId: inactivityMessageId(facts.eventId),
    to: facts.recipients,
    date: facts.occurredAt,
    subject: `Management token "${tokenName}" of stack "${stackName}" will be revoked on ${readable(facts.retireAt)}: unused for ${facts.inactiveDays} days`,
    text: [
      `The management token "${tokenName}" (uid ${tokenUid}) of the stack "${stackName}" (api_key ${apiKey})`,
      `has not been used since ${facts.lastActivityAt} (its last use, or its creation or last rotation`,
      `when it was not used since). The stack's token policy retires tokens unused for ${facts.inactiveDays} days:`,
      `it will be revoked at ${facts.retireAt}. From then on, every request that sends it is refused (401).`,
      '',
      'To keep it, use it before then: any request it is allowed to make counts. Nothing else is needed.',
      'If nothing uses it any more, there is nothing to do; the audit log will list the revocation',
      '(event_type delete, reason inactive).',
      '',
      'You receive this because you are the owner or an admin of the stack.',
      '',
    ].join('\n'),
  }
}
