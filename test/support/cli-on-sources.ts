/**
 * Node's arguments that run bin/management-tokens.js, the real executable, on the sources (no
 * build needed): under this condition its `#cli` import (package.json `imports`) is
 * src/cli/main.ts instead of dist's. The child needs a TypeScript loader (tsx, or tap's).
 */
export const CLI_ON_SOURCES = ['--conditions=management-tokens-source', 'bin/management-tokens.js'] as const
