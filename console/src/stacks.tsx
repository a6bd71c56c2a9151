import { useState } from 'preact/hooks'
import { utc } from './format'
import { go, href } from './router'
import { useApp } from './session'
import { ROLE_LABEL, type Stack } from './types'
import { ErrorBanner, FieldError } from './ui'
import { useLoad } from './use-load'

/** The stacks the signed-in user belongs to, and "create a stack". */
export const StacksPage = () => {
  const { request } = useApp()
  const stacks = useLoad(() => request<{ stacks: Stack[] }>('GET', '/v3/stacks').then((r) => r.stacks), [])
  const [name, setName] = useState('')
  const [description, setDescription] = useState('')
  const [error, setError] = useState<unknown>()
  const [fields, setFields] = useState<Record<string, string[]>>({})
  const [busy, setBusy] = useState(false)

  const create = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    setFields({})
    try {
      const res = await request<{ stack: Stack }>('POST', '/v3/stacks', { body: { stack: { name, description } } })
      setName('')
      setDescription('')
      go('stacks', res.stack.api_key, 'tokens')
    } catch (err) {
      const f = (err as { fields?: Record<string, string[]> }).fields ?? {}
      setFields(f)
      if (Object.keys(f).length === 0) setError(err)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <h1>Stacks</h1>
      <ErrorBanner error={stacks.error} />
      {stacks.data && stacks.data.length === 0 ? (
        <p class="empty">You belong to no stack yet. Create one below: you become its owner.</p>
      ) : null}
      {stacks.data && stacks.data.length > 0 ? (
        <ul class="cards" aria-label="Your stacks">
          {stacks.data.map((s) => (
            <li class="card" key={s.api_key}>
              <h2>
                <a href={href('stacks', s.api_key, 'tokens')}>{s.name}</a>
              </h2>
              {s.description ? <p>{s.description}</p> : null}
              <p class="muted">
                Your role: {ROLE_LABEL[s.role] ?? s.role} · API key <code>{s.api_key}</code> · created {utc(s.created_at)}
              </p>
            </li>
          ))}
        </ul>
      ) : null}
      <section aria-labelledby="create-stack-title" class="panel">
        <h2 id="create-stack-title">Create a stack</h2>
        <form onSubmit={create} noValidate>
          <label for="stack-name">Name</label>
          <input
            id="stack-name"
            required
            maxLength={200}
            value={name}
            aria-invalid={fields.name ? 'true' : undefined}
            aria-describedby={fields.name ? 'stack-name-error' : undefined}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <FieldError id="stack-name-error" messages={fields.name} />
          <label for="stack-description">Description (optional)</label>
          <input id="stack-description" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          <FieldError id="stack-description-error" messages={fields.description} />
          <button type="submit" disabled={busy}>
            Create stack
          </button>
          <ErrorBanner error={error} />
        </form>
      </section>
    </>
  )
}
