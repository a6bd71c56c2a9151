import { escapeControls } from '../src/domain/plain-text.js'
import type { LeakReport } from '../src/domain/events.js'
import type { NoticeMail } from './expiry-mail.js'

export interface LeakFacts {
  readonly eventId: string
  readonly occurredAt: string
  readonly apiKey: string
  readonly stackName: string
  readonly tokenUid: string
  readonly tokenName: string
  readonly report: LeakReport
  readonly recipients: readonly string[]
}

/** Stable per revocation: a retry after a crash is the same message. */
export const leakMessageId = (eventId: string): string => `<token-leaked.${eventId}@management-tokens>`

/**
 * The mail to a stack's owner and admins when a token was revoked because its secret was
 * reported leaked: which token, where the reporter said it was found (quoted as reported, and
 * whether the report was signed), and what to do. Never the secret. Every reported value is
 * escaped (src/domain/plain-text.ts): a reporter chooses them.
 */
export const renderLeakNotice = (facts: LeakFacts): NoticeMail => {
  const [tokenName, stackName, tokenUid, apiKey] = [facts.tokenName, facts.stackName, facts.tokenUid, facts.apiKey].map(escapeControls) as [string, string, string, string]
  const { url, source, signed } = facts.report
  return {
    messageId: leakMessageId(facts.eventId),
    to: facts.recipients,
    date: facts.occurredAt,
    subject: `Management token "${tokenName}" of stack "${stackName}" was revoked: its secret was reported leaked`,
    text: [
      `The management token "${tokenName}" (uid ${tokenUid}) of the stack "${stackName}" (api_key ${apiKey})`,
      `was revoked at ${facts.occurredAt}: one of its secrets was reported as leaked. Every request`,
      'that sends it is now refused (401).',
      '',
      `Reported found at: ${url === null ? '(not said)' : escapeControls(url)}`,
      `Reported source: ${source === null ? '(not said)' : escapeControls(source)}`,
      signed ? 'The report was signed by a configured secret-scanning key.' : 'The report was not signed: it came from someone holding the secret.',
      '',
      'Generate a new token for whatever used this one, and remove the secret from where it was found.',
      'The audit log lists the revocation (event_type delete, reason leaked).',
      '',
      'You receive this because you are the owner or an admin of the stack.',
      '',
    ].join('\n'),
  }
}
