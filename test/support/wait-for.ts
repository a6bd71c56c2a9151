/**
 * Bounded polling for tests: wait until a condition holds instead of sleeping for a guessed time.
 * A slow machine makes the wait longer, never the assertion wrong; a condition that never holds
 * fails after `timeoutMs` with the label in the message.
 */
export interface WaitForOptions {
  readonly timeoutMs?: number
  readonly intervalMs?: number
  readonly label?: string
}

export const waitFor = async (
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, intervalMs = 5, label = 'condition' }: WaitForOptions = {},
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await condition()) return
    if (Date.now() >= deadline) throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${label}`)
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
