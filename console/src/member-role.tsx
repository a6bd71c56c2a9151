import { useState } from 'preact/hooks'
import { ROLE_LABEL } from './types'

const CHOICES = ['admin', 'developer', 'content_manager'] as const

/** The role a member's select starts at: the one of theirs that allows the most. */
const mainRole = (roles: readonly string[]): string => CHOICES.find((r) => roles.includes(r)) ?? 'developer'

/**
 * A member's role, changed with a select and applied with its button: moving through a select's
 * options with the keyboard must not change anyone's access on its own.
 */
export const RoleControl = ({ email, roles, onSave }: { email: string; roles: readonly string[]; onSave: (role: string) => Promise<boolean> }) => {
  const current = mainRole(roles)
  const [role, setRole] = useState(current)
  const [busy, setBusy] = useState(false)
  const unchanged = role === current && roles.length === 1
  return (
    <span class="role-control">
      <select aria-label={`Role of ${email}`} value={role} onChange={(e) => setRole(e.currentTarget.value)}>
        {CHOICES.map((r) => (
          <option key={r} value={r}>
            {ROLE_LABEL[r]}
          </option>
        ))}
      </select>
      <button
        type="button"
        class="secondary"
        aria-label={`Save the role of ${email}`}
        disabled={busy || unchanged}
        onClick={async () => {
          setBusy(true)
          await onSave(role)
          setBusy(false)
        }}
      >
        Save role
      </button>
    </span>
  )
}
