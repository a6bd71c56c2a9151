import * as E from 'fp-ts/lib/Either.js'
import type { Actor, Command, Policy } from '../domain/commands.js'
import { decide } from '../domain/decide.js'
import { SCHEMA_VERSION, type EventType } from '../domain/events.js'
import { managersOf } from '../domain/roles.js'
import { MODULES, type RateLimit, type Scope } from '../domain/scope.js'
import { evolveOwned, initialState, liveTokens, type OwnedState, type StackState, type TokenState } from '../domain/state.js'
import type { ExpectedRevision, NewEvent } from '../eventstore/port.js'
import { stackStream } from '../eventstore/streams.js'
import { prng } from './prng.js'

export interface SeedPlan {
  readonly stacks: number
  readonly tokensPerStack: number
  /** Changes per generated token on average (renames, scope/limit/expiry changes, rotations, revocations, member changes). */
  readonly changes: number
  readonly seed: number
  /** The synthetic clock's first instant; it advances 1 to 60 s per command. */
  readonly start: Date
  readonly policy: Policy
}

export interface SeedAppend {
  readonly stream: string
  readonly events: readonly NewEvent[]
  readonly expected: ExpectedRevision
}

export interface SeedCounts {
  commands: number
  /** Commands the decider refused: none expected, counted to prove it. */
  rejected: number
  /** Commands that changed nothing (e.g. a member shared again with the same role). */
  unchanged: number
  events: number
  readonly byType: Record<string, number>
}

type Active = Extract<StackState, { status: 'active' }>

interface Work {
  readonly apiKey: string
  readonly stream: string
  readonly owner: Actor
  state: OwnedState
  revision: number
  shares: Array<{ user: Actor; roles: string[] }>
  generatesLeft: number
  changesLeft: number
  seq: number
}

/** How many stacks change at the same time: they are created gradually, their events interleave. */
const WINDOW = 32
const WORDS = ['ci', 'deploy', 'import', 'sync', 'backup', 'migrate', 'preview', 'publish', 'search', 'translate']
const SCOPE_MODULES = MODULES.filter((m) => m !== 'branch' && m !== 'branch_alias')
const ROLE_MIX = ['admin', 'admin', 'developer', 'developer', 'content_manager']

/**
 * A synthetic but valid history: every event comes from `decide` on the stack's folded state
 * with a synthetic clock, so it obeys every domain rule. Deterministic for a given plan.
 * Yields one append (one command's events on one stream) at a time, in global order.
 */
export function* seedHistory(plan: SeedPlan, counts: SeedCounts): Generator<SeedAppend> {
  const r = prng(plan.seed)
  let now = plan.start.getTime()
  const userCount = plan.stacks * 3 + 10
  const users: Actor[] = Array.from({ length: userCount }, (_, k) => ({ uid: `u${r.hex(15)}`, email: `user${k}@example.com` }))
  const byEmail = new Map(users.map((u) => [u.email, u]))
  const pickUser = () => r.pick(users)
  const revokeP = Math.min(0.1, 0.3 / Math.max(1, plan.changes))

  const open = (): Work => {
    const owner = pickUser()
    const apiKey = `blt${r.hex(16)}`
    const shares: Work['shares'] = []
    const n = r.int(1, 4)
    for (let i = 0; i < n; i += 1) {
      const user = pickUser()
      if (user.email !== owner.email && !shares.some((s) => s.user.email === user.email)) shares.push({ user, roles: [r.pick(ROLE_MIX)] })
    }
    return {
      apiKey,
      stream: stackStream(apiKey),
      owner,
      state: initialState,
      revision: -1,
      shares,
      generatesLeft: plan.tokensPerStack,
      changesLeft: plan.tokensPerStack * plan.changes,
      seq: 0,
    }
  }

  const managers = (s: Active): Actor[] => managersOf(s).map((email) => byEmail.get(email) as Actor)
  const someExpiry = (): string => {
    const at = new Date(now + r.int(30, 720) * 86_400_000)
    return r.chance(0.5) ? at.toISOString().slice(0, 10) : at.toISOString()
  }
  const expiry = (): string | null => (r.chance(0.4) ? null : someExpiry())
  const someLimits = (): RateLimit => ({ read: r.int(1, plan.policy.planReadLimit), write: r.int(1, plan.policy.planWriteLimit) })
  const limits = (): RateLimit | null => (r.chance(0.5) ? null : someLimits())
  const scope = (): Scope => {
    const out: Scope = []
    const n = r.int(1, 3)
    for (let i = 0; i < n; i += 1) {
      const module = r.pick(SCOPE_MODULES)
      if (out.some((e) => e.module === module)) continue
      out.push({ module, acl: { read: true, write: module !== 'audit_log' && r.chance(0.4) } })
    }
    if (r.chance(0.1)) out.push({ module: 'branch', branches: r.chance(0.5) ? ['main'] : ['main', 'development'], acl: { read: true, write: r.chance(0.3) } })
    return out
  }

  const tokenChange = (w: Work, s: Active, actor: Actor, t: TokenState): Command => {
    const token_uid = t.uid
    const roll = r.next()
    if (roll < revokeP) return { type: 'RevokeToken', actor, token_uid }
    if (roll < 0.2) return { type: 'RenameToken', actor, token_uid, name: `${r.pick(WORDS)}-${(w.seq += 1)}`, ...(r.chance(0.3) ? { description: `${r.pick(WORDS)} job` } : {}) }
    if (roll < 0.4) return { type: 'ChangeScope', actor, token_uid, scope: scope() }
    if (roll < 0.55) return { type: 'ChangeLimits', actor, token_uid, rate_limit: t.rate_limit === null ? someLimits() : limits() }
    if (roll < 0.7) return { type: 'ChangeExpiry', actor, token_uid, expires_on: t.expires_on === null ? someExpiry() : expiry() }
    if (roll < 0.75) return { type: 'ChangeNotification', actor, token_uid, enabled: !t.is_email_notification_enabled }
    if (roll < 0.9) return { type: 'RotateToken', actor, token_uid, secret_hash: r.hex(64), previous_expires_in_seconds: r.pick([0, 0, 3600, 86_400]) }
    if (roll < 0.95)
      return { type: 'UpdateToken', actor, token_uid, changes: { name: `${r.pick(WORDS)}-${(w.seq += 1)}`, scope: scope(), rate_limit: limits() } }
    return memberChange(s, actor)
  }

  const memberChange = (s: Active, actor: Actor): Command => {
    const others = [...s.members.keys()].filter((e) => e !== s.owner_email)
    const admins = others.filter((e) => (s.members.get(e) ?? []).includes('admin'))
    const roll = r.next()
    if (roll < 0.1 && admins.length > 0) {
      const owner = byEmail.get(s.owner_email) as Actor
      return { type: 'TransferOwnership', actor: owner, to_email: r.pick(admins) }
    }
    if (roll < 0.4 && others.length > 1) {
      const email = r.pick(others)
      if (email !== actor.email) return { type: 'UnshareStack', actor, email }
    }
    let user = pickUser()
    while (user.email === s.owner_email) user = pickUser()
    return { type: 'ShareStack', actor, members: [{ email: user.email, roles: [r.pick(ROLE_MIX)] }] }
  }

  const nextCommand = (w: Work): Command | undefined => {
    if (w.state.status === 'absent')
      return { type: 'CreateStack', actor: w.owner, api_key: w.apiKey, name: `${r.pick(WORDS)} site ${w.apiKey.slice(3, 7)}`, description: r.chance(0.5) ? 'synthetic' : '' }
    const s = w.state
    const actor = r.pick(managers(s))
    const share = w.shares.pop()
    if (share) return { type: 'ShareStack', actor, members: [{ email: share.user.email, roles: share.roles }] }
    if (w.generatesLeft === 0 && w.changesLeft === 0) return undefined
    const live = liveTokens(s)
    const generate = w.generatesLeft > 0 && (live.length === 0 || r.next() < w.generatesLeft / (w.generatesLeft + w.changesLeft))
    if (generate && live.length < plan.policy.maxTokensPerStack) {
      w.generatesLeft -= 1
      return {
        type: 'GenerateToken',
        actor,
        token_uid: `blt${r.hex(16)}`,
        secret_hash: r.hex(64),
        name: `${r.pick(WORDS)}-${(w.seq += 1)}`,
        description: r.chance(0.3) ? `${r.pick(WORDS)} integration` : '',
        scope: scope(),
        expires_on: expiry(),
        rate_limit: limits(),
        is_email_notification_enabled: r.chance(0.2),
      }
    }
    w.changesLeft = Math.max(0, w.changesLeft - 1)
    if (generate) return { type: 'RevokeToken', actor, token_uid: r.pick(live).uid } // at the live-token limit
    return live.length === 0 ? memberChange(s, actor) : tokenChange(w, s, actor, r.pick(live))
  }

  const active: Work[] = []
  let opened = 0
  while (opened < plan.stacks || active.length > 0) {
    while (active.length < WINDOW && opened < plan.stacks) {
      active.push(open())
      opened += 1
    }
    const i = Math.floor(r.next() * active.length)
    const w = active[i] as Work
    const command = nextCommand(w)
    if (!command) {
      active[i] = active[active.length - 1] as Work
      active.pop()
      continue
    }
    now += r.int(1_000, 60_000)
    counts.commands += 1
    const decision = decide(command, w.state, { now: new Date(now), policy: plan.policy })
    if (E.isLeft(decision) || decision.right.length === 0) {
      if (E.isLeft(decision)) counts.rejected += 1
      else counts.unchanged += 1
      continue
    }
    const metadata = {
      actor: command.actor.uid,
      actor_email: command.actor.email,
      occurred_at: new Date(now).toISOString(),
      request_id: r.uuid(),
      remote_addr: `10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
      schema_version: SCHEMA_VERSION,
    }
    const events: NewEvent[] = decision.right.map((e) => {
      counts.byType[e.type] = (counts.byType[e.type] ?? 0) + 1
      w.state = evolveOwned(w.state, e, metadata.occurred_at)
      return { id: uuidV7(now, r), type: e.type, data: e.data, metadata }
    })
    counts.events += events.length
    const expected: ExpectedRevision = w.revision < 0 ? 'no_stream' : w.revision
    w.revision += events.length
    yield { stream: w.stream, events, expected }
  }
}

/** Time-ordered ids (UUIDv7 layout) from the synthetic clock: realistic, and appended at the end of the id index. */
const uuidV7 = (ms: number, r: ReturnType<typeof prng>): string => {
  const t = ms.toString(16).padStart(12, '0')
  const h = r.hex(20)
  return `${t.slice(0, 8)}-${t.slice(8)}-7${h.slice(0, 3)}-${(8 + (parseInt(h[3] as string, 16) & 3)).toString(16)}${h.slice(4, 7)}-${h.slice(8)}`
}

export const emptyCounts = (): SeedCounts => ({ commands: 0, rejected: 0, unchanged: 0, events: 0, byType: {} satisfies Partial<Record<EventType, number>> })
