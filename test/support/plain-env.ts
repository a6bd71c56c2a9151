/**
 * The environment without the test runner's hooks, for child processes that do not run under
 * tap's loader (a tool, or the service under tsx). A child under another TypeScript loader must not
 * record coverage: its code is transpiled differently, and merged with the suite's coverage it
 * replaces what the in-process tests covered in the same files.
 */
export const plainEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  delete env.NODE_V8_COVERAGE
  // tap's process tracking adds its loader to every child it sees spawned; this turns its coverage off.
  env._TAPJS_PROCESSINFO_COVERAGE_ = '0'
  return env
}
