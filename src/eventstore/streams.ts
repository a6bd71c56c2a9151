/**
 * Stream naming, in one place. One stream per stack: the stack is the consistency boundary of
 * every domain invariant (live-token count, unique names, who may act, final revocation).
 */
export const STACK_STREAM_PREFIX = 'stack-'
export const stackStream = (apiKey: string): string => `${STACK_STREAM_PREFIX}${apiKey}`
export const apiKeyOfStream = (stream: string): string | undefined =>
  stream.startsWith(STACK_STREAM_PREFIX) ? stream.slice(STACK_STREAM_PREFIX.length) : undefined
