import type { ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'
import { ApiError } from './api'

/** A modal `<dialog>`: focus stays inside, Escape closes (calls onClose). */
export const Dialog = (props: { title: string; onClose: () => void; children: ComponentChildren; id?: string }) => {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const d = ref.current
    if (d && !d.open) d.showModal()
    return () => d?.close()
  }, [])
  const titleId = `${props.id ?? 'dialog'}-title`
  return (
    <dialog
      ref={ref}
      id={props.id}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault()
        props.onClose()
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      {props.children}
    </dialog>
  )
}

/** A plain statement of what went wrong, with the service's own words. */
export const ErrorBanner = ({ error }: { error: unknown }) => {
  if (!error) return null
  const e = error instanceof ApiError ? error : undefined
  // An expired sign-in is explained by the sign-in prompt over the page; after it, this is stale.
  if (e?.expired) return null
  const prefix =
    e?.status === 403
      ? 'Not allowed: '
      : e?.status === 404
          ? 'Not found: '
          : ''
  const message = e ? e.message : String(error)
  return (
    <p class="error" role="alert">
      {prefix}
      {message}
      {e?.status ? <span class="muted"> (HTTP {e.status})</span> : null}
    </p>
  )
}

export const Notice = ({ text }: { text: string | undefined }) =>
  text ? (
    <p class="notice" role="status">
      {text}
    </p>
  ) : null

/** Messages for one field, linked to the control with aria-describedby. */
export const FieldError = ({ id, messages }: { id: string; messages: string[] | undefined }) =>
  messages && messages.length > 0 ? (
    <p class="field-error" id={id}>
      {messages.join('; ')}
    </p>
  ) : null
