import { AsOfPage } from './as-of'
import { AuditPage } from './audit'
import { MembersPage } from './members'
import { PolicyPage } from './policy'
import { href } from './router'
import { useApp } from './session'
import { TokensPage } from './tokens'
import { ROLE_LABEL, canManage, type Stack } from './types'
import { ErrorBanner } from './ui'
import { useLoad } from './use-load'

const TABS = [
  ['tokens', 'Management tokens'],
  ['members', 'Members'],
  ['policy', 'Token policy'],
  ['audit', 'Audit log'],
  ['as-of', 'As of'],
] as const

/** One stack: its tabs. The caller's role decides which actions are offered. */
export const StackPage = ({ apiKey, route }: { apiKey: string; route: string[] }) => {
  const { request } = useApp()
  const stack = useLoad(() => request<{ stack: Stack }>('GET', '/v3/stacks', { apiKey }).then((r) => r.stack), [apiKey])
  const tab = route[0] ?? 'tokens'
  const s = stack.data
  return (
    <>
      <nav aria-label="Breadcrumb" class="crumbs">
        <a href="#/">Stacks</a> <span aria-hidden="true">/</span> <span>{s?.name ?? apiKey}</span>
      </nav>
      <ErrorBanner error={stack.error} />
      {s ? (
        <>
          <h1>{s.name}</h1>
          <p class="muted">
            API key <code>{s.api_key}</code> · your role: <strong>{ROLE_LABEL[s.role] ?? s.role}</strong>
          </p>
          <nav aria-label="Stack sections" class="tabs">
            {TABS.map(([id, label]) => (
              <a key={id} href={href('stacks', apiKey, id)} aria-current={tab === id ? 'page' : undefined}>
                {label}
              </a>
            ))}
          </nav>
          {tab === 'members' ? <MembersPage stack={s} onChanged={() => void stack.reload()} /> : null}
          {tab === 'policy' ? canManage(s.role) ? <PolicyPage stack={s} /> : <OwnersOnly what="the token policy" /> : null}
          {tab === 'audit' ? canManage(s.role) ? <AuditPage stack={s} /> : <OwnersOnly what="the audit log" /> : null}
          {tab === 'as-of' ? canManage(s.role) ? <AsOfPage stack={s} /> : <OwnersOnly what="past token states" /> : null}
          {tab === 'tokens' ? canManage(s.role) ? <TokensPage stack={s} route={route.slice(1)} /> : <OwnersOnly what="management tokens" /> : null}
        </>
      ) : null}
    </>
  )
}

const OwnersOnly = ({ what }: { what: string }) => (
  <p class="empty" role="note">
    Only the stack's owner and admins can see and manage {what}. Ask one of them if you need a token.
  </p>
)
