/** The token list's heading: "N of 30", generating (off at the limit, with why), and the empty state. */
export const ListHeading = ({ count, max, ready, onGenerate }: { count: number; max: number; ready: boolean; onGenerate: () => void }) => {
  const full = count >= max
  return (
    <>
      <div class="heading-row">
        <h2 id="tokens-title">Management tokens</h2>
        <p class="count" aria-live="polite">
          {count} of {max} tokens
        </p>
        <button type="button" disabled={full || !ready} onClick={onGenerate} aria-describedby={full ? 'limit-reached' : undefined}>
          + Management token
        </button>
      </div>
      {full ? <LimitReached max={max} /> : null}
    </>
  )
}

export const LimitReached = ({ max }: { max: number }) => (
  <p class="warning" id="limit-reached" role="status">
    Limit reached: this stack has {max} live tokens, the most it may have. Revoke one to generate another.
  </p>
)

export const NoTokens = () => (
  <div class="empty">
    <p>
      <strong>No management tokens yet.</strong>
    </p>
    <p>
      A management token lets a script or a service call this stack's management API without a person's sign-in: it carries its own
      permissions per module, branches, an optional expiry and rate limits. Its secret is shown once, when it is generated.
    </p>
  </div>
)
