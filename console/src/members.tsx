import { useState } from 'preact/hooks'
import { RoleControl } from './member-role'
import { useApp } from './session'
import { ROLE_LABEL, canManage, type Member, type Stack } from './types'
import { Dialog, ErrorBanner, FieldError, Notice } from './ui'
import { useLoad } from './use-load'

type Pending = { kind: 'unshare'; email: string } | { kind: 'transfer'; email: string }

/** Members with roles; share, change roles, unshare and transfer for the roles that may. */
export const MembersPage = ({ stack, onChanged }: { stack: Stack; onChanged: () => void }) => {
  const { request } = useApp()
  const apiKey = stack.api_key
  const members = useLoad(() => request<{ members: Member[] }>('GET', '/v3/stacks/members', { apiKey }).then((r) => r.members), [apiKey])
  const [email, setEmail] = useState('')
  const [role, setRole] = useState('developer')
  const [transferTo, setTransferTo] = useState('')
  const [pending, setPending] = useState<Pending>()
  const [error, setError] = useState<unknown>()
  const [fields, setFields] = useState<Record<string, string[]>>({})
  const [notice, setNotice] = useState<string>()
  const manage = canManage(stack.role)
  const owner = stack.role === 'owner'

  const act = async (what: () => Promise<{ notice?: string }>) => {
    setError(undefined)
    setFields({})
    setNotice(undefined)
    try {
      const res = await what()
      setNotice(res.notice)
      await members.reload()
      onChanged()
      return true
    } catch (err) {
      const f = (err as { fields?: Record<string, string[]> }).fields ?? {}
      if (Object.keys(f).length > 0 && !('authtoken' in f)) setFields(f)
      setError(err)
      return false
    }
  }

  const share = async (e: Event) => {
    e.preventDefault()
    const addr = email.trim().toLowerCase()
    if (await act(() => request('POST', '/v3/stacks/share', { apiKey, body: { emails: [addr], roles: { [addr]: [role] } } }))) setEmail('')
  }

  const confirm = async () => {
    const p = pending
    if (!p) return
    setPending(undefined)
    if (p.kind === 'unshare') await act(() => request('POST', '/v3/stacks/unshare', { apiKey, body: { email: p.email } }))
    else if (await act(() => request('POST', '/v3/stacks/transfer_ownership', { apiKey, body: { transfer_to: p.email } }))) setTransferTo('')
  }

  const others = (members.data ?? []).filter((m) => !m.roles.includes('owner'))
  const emailErrors = fields.emails ?? fields['emails[0]'] ?? fields.email ?? fields['members[0].email']
  return (
    <section aria-labelledby="members-title">
      <h2 id="members-title">Members</h2>
      <Notice text={notice} />
      <ErrorBanner error={error} />
      <ErrorBanner error={members.error} />
      <ul class="rows" aria-label="Members of this stack">
        {(members.data ?? []).map((m) => (
          <li key={m.email} class="row">
            <span class="grow">{m.email}</span>
            <span class="badge">{m.roles.map((r) => ROLE_LABEL[r] ?? r).join(', ')}</span>
            {manage && !m.roles.includes('owner') ? (
              <RoleControl
                key={m.roles.join()}
                email={m.email}
                roles={m.roles}
                onSave={(r) => act(() => request('PUT', '/v3/stacks/users/roles', { apiKey, body: { users: { [m.email]: [r] } } }))}
              />
            ) : null}
            {manage && !m.roles.includes('owner') ? (
              <button type="button" class="secondary" aria-label={`Remove ${m.email}`} onClick={() => setPending({ kind: 'unshare', email: m.email })}>
                Remove
              </button>
            ) : null}
          </li>
        ))}
      </ul>
      {manage ? (
        <form class="panel" onSubmit={share} aria-labelledby="share-title" noValidate>
          <h3 id="share-title">Share this stack</h3>
          <div class="inline">
            <div>
              <label for="share-email">Email</label>
              <input
                id="share-email"
                type="email"
                required
                value={email}
                aria-invalid={emailErrors ? 'true' : undefined}
                aria-describedby={emailErrors ? 'share-email-error' : undefined}
                onInput={(e) => setEmail(e.currentTarget.value)}
              />
            </div>
            <div>
              <label for="share-role">Role</label>
              <select id="share-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                <option value="admin">Admin</option>
                <option value="developer">Developer</option>
                <option value="content_manager">Content manager</option>
              </select>
            </div>
          </div>
          <FieldError id="share-email-error" messages={emailErrors} />
          <button type="submit">Share</button>
        </form>
      ) : (
        <p class="muted">Only the owner and admins can share or unshare this stack.</p>
      )}
      {owner && others.length > 0 ? (
        <form
          class="panel"
          aria-labelledby="transfer-title"
          onSubmit={(e) => {
            e.preventDefault()
            if (transferTo) setPending({ kind: 'transfer', email: transferTo })
          }}
        >
          <h3 id="transfer-title">Transfer ownership</h3>
          <p class="muted">The new owner must be a member. You become an admin.</p>
          <label for="transfer-to">New owner</label>
          <select id="transfer-to" value={transferTo} onChange={(e) => setTransferTo(e.currentTarget.value)}>
            <option value="">Choose a member</option>
            {others.map((m) => (
              <option key={m.email} value={m.email}>
                {m.email}
              </option>
            ))}
          </select>
          <button type="submit" disabled={!transferTo}>
            Transfer ownership
          </button>
        </form>
      ) : null}
      {pending ? (
        <Dialog id="confirm-member" title={pending.kind === 'unshare' ? 'Remove member' : 'Transfer ownership'} onClose={() => setPending(undefined)}>
          <p>
            {pending.kind === 'unshare'
              ? `Remove ${pending.email} from ${stack.name}? Their tokens keep working; they lose access to the stack.`
              : `Make ${pending.email} the owner of ${stack.name}? You become an admin.`}
          </p>
          <div class="actions">
            <button type="button" class="danger" onClick={() => void confirm()}>
              {pending.kind === 'unshare' ? 'Remove' : 'Transfer'}
            </button>
            <button type="button" class="secondary" onClick={() => setPending(undefined)}>
              Cancel
            </button>
          </div>
        </Dialog>
      ) : null}
    </section>
  )
}
