import { escapeControls } from '../src/domain/plain-text.js'

/** One expiry notice as a mail: built from the notice event and the names the schedule knows. */
export interface NoticeMail {
  readonly messageId: string
  readonly to: readonly string[]
  readonly subject: string
  readonly text: string
  /** When the notice was recorded (the mail's Date, the same on every retry). */
  readonly date: string
}

export interface NoticeFacts {
  readonly eventId: string
  readonly occurredAt: string
  readonly apiKey: string
  readonly stackName: string
  readonly tokenUid: string
  readonly tokenName: string
  readonly expiresOn: string
  readonly recipients: readonly string[]
}

/** Stable per notice: a retry after a crash is the same message (RFC 5322 msg-id). */
export const noticeMessageId = (eventId: string): string => `<expiry-notice.${eventId}@management-tokens>`

const readable = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`

/**
 * The notice names the stack, the token, its uid and expiry, and how to extend it; never a
 * secret. Names (and ids) are escaped (src/domain/plain-text.ts): one stored before names were
 * checked may hold a line feed, which would otherwise start a line of its own in the mail.
 */
export const renderNotice = (facts: NoticeFacts): NoticeMail => {
  const [tokenName, stackName, tokenUid, apiKey] = [facts.tokenName, facts.stackName, facts.tokenUid, facts.apiKey].map(escapeControls) as [string, string, string, string]
  const f = { ...facts, tokenName, stackName, tokenUid, apiKey }
  return {
    messageId: noticeMessageId(f.eventId),
    to: f.recipients,
    date: f.occurredAt,
    subject: `Management token "${f.tokenName}" of stack "${f.stackName}" expires on ${readable(f.expiresOn)}`,
    text: [
      `The management token "${f.tokenName}" (uid ${f.tokenUid}) of the stack "${f.stackName}" (api_key ${f.apiKey})`,
      `expires at ${f.expiresOn}. From then on, every request that sends it is refused (401).`,
      '',
      'To keep it working, an owner or admin of the stack sets a later expiry, for example:',
      '',
      `  PUT /v3/stacks/management_tokens/${f.tokenUid}`,
      '  {"token": {"expires_on": "YYYY-MM-DD"}}',
      '',
      "(or edits the token in the console), or generates a new token and replaces this one where it is used.",
      '',
      'You receive this because you are the owner or an admin of the stack and the token has expiry',
      'notifications enabled (is_email_notification_enabled).',
      '',
    ].join('\n'),
  }
}
