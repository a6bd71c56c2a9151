/**
 * The dependency rule, checked by `npm run lint`: imports point one way, from the root down
 * (cli -> service.ts -> http and authorizer surfaces -> decision, write, read -> domain), with no
 * cycles, type-only imports included. docs/architecture.md draws the picture.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle (type-only imports count): split the shared part into the lower module.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'root-from-below',
      severity: 'error',
      comment: 'src/service.ts is the composition root: only the CLI and the package entry point import it.',
      from: { pathNot: '^src/(cli/|index\\.ts$)' },
      to: { path: '^src/service\\.ts$' },
    },
    {
      name: 'decision-without-http',
      severity: 'error',
      comment: 'The decision returns reasons; surfaces turn them into HTTP answers. It reaches neither fastify nor src/http.',
      from: { path: '^src/authorizer/decide\\.ts$' },
      to: { path: '^src/http/|(^|/)node_modules/(fastify|fastify-plugin)/', reachable: true },
    },
    {
      name: 'raw-http-alone',
      severity: 'error',
      comment: 'The socket reader imports node:* and its own files only; its contract types live with it.',
      from: { path: '^src/raw-http/' },
      to: { pathNot: '^src/raw-http/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'engine-without-projections',
      severity: 'error',
      comment: 'The read engine takes projections as arguments and imports only their contract.',
      from: { path: '^src/read/' },
      to: { path: '^projections/' },
    },
    {
      name: 'write-without-read',
      severity: 'error',
      comment: 'The write side decides from events alone; what it needs of the read side is passed in by the root.',
      from: { path: '^src/write/' },
      to: { path: '^src/read/|^projections/' },
    },
    {
      name: 'domain-alone',
      severity: 'error',
      comment: 'The domain (events, commands, rules, decide) is pure: it imports only itself.',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/domain/|(^|/)node_modules/(fp-ts|io-ts)/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'projections-below-surfaces',
      severity: 'error',
      comment: 'Projections and their queries depend on the domain and the projection contract, never on a surface.',
      from: { path: '^projections/' },
      to: { path: '^src/(http|authorizer|cli|react|write)/|^src/service\\.ts$' },
    },
    {
      name: 'propagation-alone',
      severity: 'error',
      comment: 'How instances confirm changes (the registry and the wait) imports the domain, its drivers and node:* only: routes and the root hand it what it needs.',
      from: { path: '^src/propagation/' },
      to: { pathNot: '^src/(propagation|domain)/|(^|/)node_modules/(@types/)?(ioredis|better-sqlite3)/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'usage-alone',
      comment: 'Usage recording and its stores import only themselves, node:* and their drivers: the authorizer and the routes are handed them by the root.',
      severity: 'error',
      from: { path: '^src/usage/' },
      to: { pathNot: '^src/usage/|(^|/)node_modules/(@types/)?(ioredis|better-sqlite3)/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'reactors-pure',
      severity: 'error',
      comment: 'reactors/ hold what is due and what to say: pure functions of events, importing only the domain.',
      from: { path: '^reactors/' },
      to: { pathNot: '^(reactors|src/domain)/', dependencyTypesNot: ['core'] },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|console/dist)/' },
  },
}
