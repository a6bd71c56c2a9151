import t from 'tap'
import { PATH_MODULES, type PathTarget, targetOfPath } from '../../src/authorizer/path-modules.js'

/** One example per row of the table, in table order: the row must be what decides it. */
const EXAMPLES: ReadonlyArray<readonly [path: string, target: PathTarget]> = [
  ['/v3/organizations/blt1/roles', { never: 'organizations' }],
  ['/v3/user', { never: 'user accounts and sessions' }],
  ['/v3/user-session', { never: 'user sessions' }],
  ['/v3/stacks/share', { never: 'sharing a stack' }],
  ['/v3/stacks/unshare', { never: 'unsharing a stack' }],
  ['/v3/stacks/management_tokens/blt1', { never: 'management tokens' }],
  ['/v3/stacks/delivery_tokens', { never: 'delivery tokens' }],
  ['/v3/stacks/settings', { never: 'stack settings' }],
  ['/v3/content_types/blog/entries/blt1/workflow', { never: 'workflow stage changes and publish-request approvals' }],
  ['/v3/bulk/workflow', { never: 'workflow stage changes' }],
  ['/v3/stacks/branches/development', { module: 'branch' }],
  ['/v3/stacks/branches_merge', { module: 'branch' }],
  ['/v3/stacks/branches_queue/blt1', { module: 'branch' }],
  ['/v3/stacks/branch_aliases/deploy', { module: 'branch_alias' }],
  ['/v3/stacks', { never: 'stacks and stack settings' }],
  ['/v3/content_types/blog/entries/blt1/versions', { module: 'entry' }],
  ['/v3/content_types/blog', { module: 'content_type' }],
  ['/v3/global_fields/seo', { module: 'global_field' }],
  ['/v3/assets/folders/blt1', { module: 'asset' }],
  ['/v3/environments/production', { module: 'environment' }],
  ['/v3/locales/fr-fr', { module: 'locale' }],
  ['/v3/extensions', { module: 'extension' }],
  ['/v3/webhooks/blt1/executions', { module: 'webhook' }],
  ['/v3/workflows/publishing_rules/blt1', { module: 'publish_rule' }],
  ['/v3/workflows/blt1', { module: 'workflow' }],
  ['/v3/labels', { module: 'label' }],
  ['/v3/releases/blt1/items', { module: 'release' }],
  ['/v3/roles/blt1', { module: 'role' }],
  ['/v3/taxonomies/regions/terms/eu', { module: 'taxonomy' }],
  ['/v3/audit-logs/blt1', { module: 'audit_log' }],
  ['/v3/publish-queue', { module: 'publish_queue' }],
]

t.test('every row of the table, in order, decides its example', async (t) => {
  t.equal(EXAMPLES.length, PATH_MODULES.length, 'one example per row')
  PATH_MODULES.forEach(([pattern, target], i) => {
    const [path, expected] = EXAMPLES[i] as (typeof EXAMPLES)[number]
    t.same(target, expected, `row ${i} is ${pattern}`)
    t.same(targetOfPath(path), expected, `${path} -> ${JSON.stringify(expected)}`)
  })
})

t.test('patterns start with /v3/<literal> (the table is indexed by that segment)', async (t) => {
  for (const [pattern] of PATH_MODULES) t.match(pattern, /^\/v3\/[a-z_-]+(\/|$)/, pattern)
})

t.test('each CMA collection, item and nested path maps to its module', async (t) => {
  const cases: Array<[string, string]> = [
    ['/v3/content_types', 'content_type'],
    ['/v3/content_types/blog', 'content_type'],
    ['/v3/content_types/blog/entries', 'entry'],
    ['/v3/content_types/blog/entries/blt1', 'entry'],
    ['/v3/assets', 'asset'],
    ['/v3/environments', 'environment'],
    ['/v3/locales', 'locale'],
    ['/v3/stacks/branches', 'branch'],
    ['/v3/stacks/branch_aliases', 'branch_alias'],
    ['/v3/audit-logs', 'audit_log'],
    ['/v3/global_fields', 'global_field'],
    ['/v3/releases', 'release'],
    ['/v3/labels', 'label'],
    ['/v3/extensions', 'extension'],
    ['/v3/webhooks', 'webhook'],
    ['/v3/workflows', 'workflow'],
    ['/v3/workflows/publishing_rules', 'publish_rule'],
    ['/v3/roles', 'role'],
    ['/v3/taxonomies', 'taxonomy'],
    ['/v3/publish-queue', 'publish_queue'],
  ]
  for (const [path, module] of cases) t.same(targetOfPath(path), { module }, path)
})

t.test('query strings and one trailing slash are ignored', async (t) => {
  t.same(targetOfPath('/v3/assets?include_count=true'), { module: 'asset' })
  t.same(targetOfPath('/v3/assets/'), { module: 'asset' })
  t.same(targetOfPath('/v3/content_types/blog/entries/?locale=en-us'), { module: 'entry' })
})

t.test('fails closed: unknown, ambiguous or malformed paths have no target', async (t) => {
  for (const path of [
    '',
    '/',
    '/v3',
    '/v2/assets',
    'v3/assets',
    '/v3/unknown',
    '/v3/bulk/publish',
    '/V3/assets',
    '/v3/Assets',
    '/v3/assets/../stacks/settings',
    '/v3/assets/./x',
    '/v3/assets//x',
    '/v3/assets/%2e%2e/stacks',
    '/v3/assets/..%2Fstacks',
    '/v3/assets/x%5C..',
    '/v3/assets\\..\\stacks',
  ])
    t.equal(targetOfPath(path), undefined, JSON.stringify(path))
  t.same(targetOfPath('/v3/content_types/blog/entries/blt1/workflow/extra'), { never: 'workflow stage changes and publish-request approvals' }, 'below workflow too')
  t.same(targetOfPath('/v3/content_types/blog/entries/blt1/publish'), { module: 'entry' })
})
