import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import { domainError, validation, type DomainError } from './errors.js'
import { assertNever, type DomainEvent } from './events.js'
import { sameAllowedIps, validateAllowedIps } from './allowed-ips.js'
import { decideExpiryNotice } from './expiry-notice.js'
import { decideInactiveRetirement, decideInactivityNotice } from './inactivity.js'
import { decideLeakRevocation } from './leak.js'
import { alreadyOnStack, decideRoleChange } from './member-roles.js'
import { activeStack, asManager, liveToken, type Active } from './guards.js'
import { isRole } from './roles.js'
import { decideEndGrace, decideRotation } from './rotation.js'
import { decideSetPolicy, expiryWithinPolicy } from './policy-decide.js'
import { evolve, liveTokens, type StackState, type TokenState } from './state.js'
import type { Actor, Command, DecideContext, GenerateToken, TokenChanges, UpdateToken } from './commands.js'
import {
  canonical,
  MAX_DESCRIPTION,
  MAX_NAME,
  normaliseExpiry,
  requireFuture,
  validateEmail,
  validateRateLimit,
  validateScope,
  validateText,
} from './rules.js'

type Decision = E.Either<DomainError, DomainEvent[]>

const isOwner = (s: Active, actor: Actor) => s.owner_email === actor.email

/** A person the stack has (its owner among them), or member-not-found. */
const member = (s: Active, email: string): E.Either<DomainError, string> =>
  s.members.has(email) ? E.right(email) : E.left(domainError('member-not-found', `${email} is not a member of this stack.`))

const nameFree = (s: Active, name: string, except?: string): E.Either<DomainError, string> =>
  liveTokens(s).some((t) => t.name === name && t.uid !== except)
    ? E.left(validation('name', `a live token named "${name}" already exists in this stack`))
    : E.right(name)

const generate = (cmd: GenerateToken, state: StackState, ctx: DecideContext): Decision =>
  pipe(
    E.Do,
    E.apS('stack', asManager(state, cmd.actor, 'generate management tokens')),
    E.chainFirst(({ stack }) =>
      liveTokens(stack).length >= ctx.policy.maxTokensPerStack
        ? E.left(
            domainError('token-limit-reached', `A stack may have at most ${ctx.policy.maxTokensPerStack} live management tokens.`, {
              token: [`limit of ${ctx.policy.maxTokensPerStack} live tokens reached`],
            }),
          )
        : E.right(undefined),
    ),
    E.chainFirst(({ stack }) =>
      stack.tokens.has(cmd.token_uid) ? E.left(validation('uid', 'is already in use')) : E.right(undefined),
    ),
    E.bind('name', () => validateText('name', cmd.name, MAX_NAME, true)),
    E.chainFirst(({ stack, name }) => nameFree(stack, name)),
    E.bind('description', () => validateText('description', cmd.description, MAX_DESCRIPTION, false)),
    E.bind('scope', () => validateScope(cmd.scope)),
    E.bind('expires_on', () => pipe(normaliseExpiry(cmd.expires_on), E.chain((x) => requireFuture(x, ctx.now)))),
    // Decided on the same folded state as a racing policy change: one of them comes first.
    E.chainFirst(({ stack, expires_on }) => expiryWithinPolicy(stack.policy, ctx.now.getTime(), expires_on)),
    E.bind('rate_limit', () => validateRateLimit(cmd.rate_limit, ctx.policy)),
    E.bind('allowed_ips', () => validateAllowedIps(cmd.allowed_ips ?? [])),
    E.map((v): DomainEvent[] => [
      {
        type: 'TokenGenerated',
        data: {
          api_key: v.stack.api_key,
          token_uid: cmd.token_uid,
          name: v.name,
          description: v.description,
          scope: v.scope,
          expires_on: v.expires_on,
          rate_limit: v.rate_limit,
          is_email_notification_enabled: cmd.is_email_notification_enabled,
          secret_hash: cmd.secret_hash,
          ...(v.allowed_ips.length > 0 ? { allowed_ips: v.allowed_ips } : {}),
        },
      },
    ]),
  )

/** The events for one field group of a PUT; none when the value did not change. */
const changeEvents = (
  s: Active,
  t: TokenState,
  changes: TokenChanges,
  ctx: DecideContext,
): Decision => {
  const api_key = s.api_key
  const token_uid = t.uid
  const steps: Array<() => Decision> = [
    () => {
      if (changes.name === undefined && changes.description === undefined) return E.right([])
      return pipe(
        E.Do,
        E.bind('name', () => (changes.name === undefined ? E.right(t.name) : validateText('name', changes.name, MAX_NAME, true))),
        E.chainFirst(({ name }) => nameFree(s, name, t.uid)),
        E.bind('description', () =>
          changes.description === undefined
            ? E.right(t.description)
            : validateText('description', changes.description, MAX_DESCRIPTION, false),
        ),
        E.map(({ name, description }): DomainEvent[] =>
          name === t.name && description === t.description
            ? []
            : [{ type: 'TokenRenamed', data: { api_key, token_uid, name, description, before: { name: t.name, description: t.description } } }],
        ),
      )
    },
    () =>
      changes.scope === undefined
        ? E.right([])
        : pipe(
            validateScope(changes.scope),
            E.map((scope): DomainEvent[] =>
              canonical(scope) === canonical(t.scope) ? [] : [{ type: 'TokenScopeChanged', data: { api_key, token_uid, scope, before: { scope: t.scope } } }],
            ),
          ),
    () =>
      changes.expires_on === undefined
        ? E.right([])
        : pipe(
            normaliseExpiry(changes.expires_on),
            E.chain((expires_on): Decision =>
              expires_on === t.expires_on
                ? E.right([])
                : pipe(
                    requireFuture(expires_on, ctx.now),
                    E.map((): DomainEvent[] => [{ type: 'TokenExpiryChanged', data: { api_key, token_uid, expires_on, before: { expires_on: t.expires_on } } }]),
                  ),
            ),
          ),
    () =>
      changes.rate_limit === undefined
        ? E.right([])
        : pipe(
            validateRateLimit(changes.rate_limit, ctx.policy),
            E.map((rate_limit): DomainEvent[] =>
              canonical(rate_limit) === canonical(t.rate_limit)
                ? []
                : [{ type: 'TokenLimitsChanged', data: { api_key, token_uid, rate_limit, before: { rate_limit: t.rate_limit } } }],
            ),
          ),
    () =>
      changes.allowed_ips === undefined
        ? E.right([])
        : pipe(
            validateAllowedIps(changes.allowed_ips),
            E.map((allowed_ips): DomainEvent[] =>
              sameAllowedIps(allowed_ips, t.allowed_ips)
                ? []
                : [{ type: 'TokenAllowedIpsChanged', data: { api_key, token_uid, allowed_ips, before: { allowed_ips: [...t.allowed_ips] } } }],
            ),
          ),
    () =>
      changes.is_email_notification_enabled === undefined ||
      changes.is_email_notification_enabled === t.is_email_notification_enabled
        ? E.right([])
        : E.right([
            {
              type: 'TokenNotificationChanged',
              data: {
                api_key,
                token_uid,
                is_email_notification_enabled: changes.is_email_notification_enabled,
                before: { is_email_notification_enabled: t.is_email_notification_enabled },
              },
            },
          ]),
  ]
  return steps.reduce<Decision>(
    (acc, step) => pipe(acc, E.chain((events) => pipe(step(), E.map((more) => [...events, ...more])))),
    E.right([]),
  )
}

/**
 * A PUT that changes anything leaves the token within the stack policy, whichever fields it
 * sends: a token made before a tighter policy is edited into compliance or not at all.
 */
const update = (cmd: UpdateToken, state: StackState, ctx: DecideContext): Decision =>
  pipe(
    asManager(state, cmd.actor, 'update management tokens'),
    E.chain((s) =>
      pipe(
        liveToken(s, cmd.token_uid),
        E.chain((t) =>
          pipe(
            changeEvents(s, t, cmd.changes, ctx),
            E.chainFirst((events) => {
              if (events.length === 0) return E.right(undefined)
              const changed = events.find((e) => e.type === 'TokenExpiryChanged')
              const expires_on = changed?.type === 'TokenExpiryChanged' ? changed.data.expires_on : t.expires_on
              return expiryWithinPolicy(s.policy, t.created_at === null ? ctx.now.getTime() : Date.parse(t.created_at), expires_on)
            }),
          ),
        ),
      ),
    ),
  )

/** Sharing is by the email: one request names a bounded number of them. */
const shareSize = (n: number, ctx: DecideContext): E.Either<DomainError, void> => {
  if (n === 0) return E.left(validation('emails', 'must list at least one email'))
  const max = ctx.policy.maxEmailsPerShare
  return n > max ? E.left(validation('emails', `must list at most ${max} emails per request (got ${n})`)) : E.right(undefined)
}

/**
 * The owner and every member count. Changing a member's roles (ChangeRoles) adds no one, so it
 * stays allowed on a stack that holds more than a lowered cap.
 */
const withinMemberCap = (s: Active, events: readonly DomainEvent[], ctx: DecideContext): E.Either<DomainError, void> => {
  const max = ctx.policy.maxMembersPerStack
  const added = new Set(events.flatMap((e) => (e.type === 'MemberShared' && !s.members.has(e.data.email) ? [e.data.email] : [])))
  return added.size > 0 && s.members.size + added.size > max
    ? E.left(
        domainError('member-limit-reached', `A stack may have at most ${max} members, its owner included; it has ${s.members.size}.`, {
          emails: [`limit of ${max} members per stack reached: ${added.size} new, ${Math.max(0, max - s.members.size)} more allowed`],
        }),
      )
    : E.right(undefined)
}

/** Stacks are never deleted: counting the ones a user created bounds what one user can make. */
const withinStackQuota = (ctx: DecideContext): E.Either<DomainError, void> => {
  const max = ctx.policy.maxStacksPerUser
  return ctx.stacksCreated !== undefined && ctx.stacksCreated >= max
    ? E.left(domainError('stack-limit-reached', `A user may create at most ${max} stacks.`, { stack: [`limit of ${max} stacks per user reached`] }))
    : E.right(undefined)
}

export const decide = (cmd: Command, state: StackState, ctx: DecideContext): Decision => {
  switch (cmd.type) {
    case 'CreateStack':
      if (state.status !== 'absent') return E.left(domainError('stack-exists', 'A stack with this api_key already exists.'))
      return pipe(
        withinStackQuota(ctx),
        E.chain(() =>
          pipe(
            E.Do,
            E.bind('name', () => validateText('name', cmd.name, MAX_NAME, true)),
            E.bind('description', () => validateText('description', cmd.description, MAX_DESCRIPTION, false)),
            E.map(({ name, description }): DomainEvent[] => [
              {
                type: 'StackCreated',
                data: { api_key: cmd.api_key, name, description, owner_email: cmd.actor.email, owner_uid: cmd.actor.uid },
              },
            ]),
          ),
        ),
      )
    case 'ShareStack':
      return pipe(
        asManager(state, cmd.actor, 'share the stack'),
        E.chain((s) =>
          pipe(
            shareSize(cmd.members.length, ctx),
            E.chain(() =>
              E.traverseArray((m: { email: string; roles: readonly string[] }) =>
                pipe(
                  validateEmail('emails', m.email),
                  E.chainFirst((email) =>
                    m.roles.length > 0 && m.roles.every(isRole)
                      ? E.right(undefined)
                      : E.left(validation(`roles.${email}`, 'must list roles among admin, developer, content_manager')),
                  ),
                  E.chainFirst((email) => {
                    const refusal = alreadyOnStack(s, email)
                    return refusal ? E.left(refusal) : E.right(undefined)
                  }),
                  E.map((email): DomainEvent[] => [{ type: 'MemberShared', data: { api_key: s.api_key, email, roles: [...new Set(m.roles)] } }]),
                ),
              )(cmd.members),
            ),
            E.map((lists) => lists.flat()),
            E.chainFirst((events) => withinMemberCap(s, events, ctx)),
          ),
        ),
      )
    case 'ChangeRoles':
      return decideRoleChange(cmd, state, ctx)
    case 'UnshareStack':
      return pipe(
        asManager(state, cmd.actor, 'unshare the stack'),
        E.chain((s) =>
          pipe(
            validateEmail('email', cmd.email),
            E.filterOrElse((email) => email !== s.owner_email, () => validation('email', 'the owner cannot be removed')),
            E.chain((email) => member(s, email)),
            E.map((email): DomainEvent[] => [{ type: 'MemberUnshared', data: { api_key: s.api_key, email } }]),
          ),
        ),
      )
    case 'TransferOwnership':
      return pipe(
        activeStack(state),
        E.filterOrElse(
          (s) => isOwner(s, cmd.actor),
          () => domainError('forbidden', 'Only the stack owner may transfer ownership.', { authtoken: ['is not the stack owner'] }),
        ),
        E.chain((s) =>
          pipe(
            validateEmail('transfer_to', cmd.to_email),
            E.filterOrElse((to) => to !== s.owner_email, () => validation('transfer_to', 'is already the owner')),
            E.chain((to) => member(s, to)),
            E.map((to): DomainEvent[] => [{ type: 'OwnershipTransferred', data: { api_key: s.api_key, from_email: s.owner_email, to_email: to } }]),
          ),
        ),
      )
    case 'GenerateToken':
      return generate(cmd, state, ctx)
    case 'UpdateToken':
      return update(cmd, state, ctx)
    case 'RenameToken': {
      const changes: TokenChanges = {
        ...(cmd.name === undefined ? {} : { name: cmd.name }),
        ...(cmd.description === undefined ? {} : { description: cmd.description }),
      }
      return update({ type: 'UpdateToken', actor: cmd.actor, token_uid: cmd.token_uid, changes }, state, ctx)
    }
    case 'ChangeScope':
      return update({ type: 'UpdateToken', actor: cmd.actor, token_uid: cmd.token_uid, changes: { scope: cmd.scope } }, state, ctx)
    case 'ChangeExpiry':
      return update(
        { type: 'UpdateToken', actor: cmd.actor, token_uid: cmd.token_uid, changes: { expires_on: cmd.expires_on } },
        state,
        ctx,
      )
    case 'ChangeLimits':
      return update(
        { type: 'UpdateToken', actor: cmd.actor, token_uid: cmd.token_uid, changes: { rate_limit: cmd.rate_limit } },
        state,
        ctx,
      )
    case 'ChangeNotification':
      return update(
        {
          type: 'UpdateToken',
          actor: cmd.actor,
          token_uid: cmd.token_uid,
          changes: { is_email_notification_enabled: cmd.enabled },
        },
        state,
        ctx,
      )
    case 'RotateToken':
      return decideRotation(cmd, state, ctx)
    case 'EndRotationGrace':
      return decideEndGrace(cmd, state, ctx)
    case 'RevokeToken':
      return pipe(
        asManager(state, cmd.actor, 'revoke management tokens'),
        E.chain((s) => liveToken(s, cmd.token_uid)),
        E.map((t): DomainEvent[] => [{ type: 'TokenRevoked', data: { api_key: (state as Active).api_key, token_uid: t.uid, reason: cmd.reason ?? 'user' } }]),
      )
    case 'RevokeLeakedToken':
      return decideLeakRevocation(cmd, state)
    case 'RecordExpiryNotice':
      return decideExpiryNotice(cmd, state, ctx)
    case 'RecordInactivityNotice':
      return decideInactivityNotice(cmd, state, ctx)
    case 'RetireInactiveToken':
      return decideInactiveRetirement(cmd, state, ctx)
    case 'SetPolicy':
      return decideSetPolicy(cmd, state)
    /* c8 ignore next 2 */
    default:
      return assertNever(cmd)
  }
}

/** A decider in the Emmett/Chassaing shape, for tests and for the command handler. */
export const stackDecider = { decide, evolve, initialState: { status: 'absent' } as StackState }
