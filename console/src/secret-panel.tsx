import { useState } from 'preact/hooks'
import { Dialog } from './ui'

/**
 * The secret, shown once, with the stack's API key. The parent drops the secret from its state
 * when this closes, so no DOM node, storage, history entry or URL holds it afterwards.
 */
export const SecretPanel = (props: { secret: string; apiKey: string; name: string; rotated: boolean; onClose: () => void }) => {
  const [copied, setCopied] = useState<string>()
  const copy = async (what: string, text: string) => {
    try {
      await navigator.clipboard.writeText(text)
      setCopied(what)
    } catch {
      setCopied(`${what}: copying is blocked here; select the text and copy it`)
    }
  }
  return (
    <Dialog id="secret-panel" title={props.rotated ? `New secret for ${props.name}` : `Token ${props.name} created`} onClose={props.onClose}>
      <p class="warning" role="alert">
        Copy the token now. It is shown only once: the service keeps only a hash of it and cannot show it again.
      </p>
      <dl class="secret">
        <dt id="secret-label">Management token</dt>
        <dd>
          <code aria-labelledby="secret-label" data-testid="secret">
            {props.secret}
          </code>
          <button type="button" onClick={() => void copy('Token', props.secret)}>
            Copy token
          </button>
        </dd>
        <dt id="apikey-label">Stack API key</dt>
        <dd>
          <code aria-labelledby="apikey-label">{props.apiKey}</code>
          <button type="button" class="secondary" onClick={() => void copy('API key', props.apiKey)}>
            Copy API key
          </button>
        </dd>
      </dl>
      <p class="muted">
        Send both with each request: <code>api_key</code> and <code>authorization</code> headers.
      </p>
      {copied ? (
        <p role="status" class="notice">
          {copied.includes(':') ? copied : `${copied} copied.`}
        </p>
      ) : null}
      <div class="actions">
        <button type="button" onClick={props.onClose}>
          I have copied it: close
        </button>
      </div>
    </Dialog>
  )
}
