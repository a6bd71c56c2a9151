// .dockerignore as Docker reads it (moby/patternmatcher: ignorefile.ReadAll, then New and
// MatchesOrParentMatches), for the pattern forms `*`, `?`, `**` and `!`. Unlike .gitignore, a
// pattern is anchored at the context root (`*.log` excludes `a.log`, not `dir/a.log`) and a later
// `!pattern` can re-include what an earlier one excluded. Character classes and escapes are refused
// rather than approximated.

/** Go's path.Clean for slash-separated paths. */
const clean = (p) => {
  const abs = p.startsWith('/')
  const out = []
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue
    if (seg === '..' && out.length > 0 && out.at(-1) !== '..') out.pop()
    else if (seg !== '..' || !abs) out.push(seg)
  }
  const s = (abs ? '/' : '') + out.join('/')
  return s === '' ? '.' : s
}

/** ignorefile.ReadAll: comments, blanks, a leading `/`, and `.`/`..` segments dropped. */
export const readPatterns = (text) => {
  const patterns = []
  for (const [i, line] of text.replace(/^\uFEFF/, '').split(/\r?\n/).entries()) {
    if (line.startsWith('#')) continue
    let p = line.trim()
    if (p === '') continue
    const invert = p.startsWith('!')
    if (invert) p = p.slice(1).trim()
    if (p !== '') {
      p = clean(p)
      if (p.length > 1 && p.startsWith('/')) p = p.slice(1)
    }
    if (!/^[A-Za-z0-9_.\-/*?@+~,=]*$/.test(p)) throw new Error(`.dockerignore line ${i + 1}: "${line}" uses a pattern form this check does not implement (only *, ? and ** are)`)
    patterns.push(invert ? `!${p}` : p)
  }
  return patterns
}

/** patternmatcher's Pattern.compile: an exact, prefix (`dir/**`), suffix (`**` first) or regexp match. */
const compile = (pattern) => {
  let re = '^'
  let type = 'exact'
  for (let i = 0, j = 0; j < pattern.length; i++) {
    const ch = pattern[j++]
    if (ch === '*' && pattern[j] === '*') {
      j++
      if (pattern[j] === '/') j++
      if (j < pattern.length) (re += '(.*/)?'), (type = 'regexp')
      else if (type === 'exact') type = 'prefix'
      else (re += '.*'), (type = 'regexp')
      if (i === 0) type = 'suffix'
    } else if (ch === '*') (re += '[^/]*'), (type = 'regexp')
    else if (ch === '?') (re += '[^/]'), (type = 'regexp')
    else re += '.+()|{}$'.includes(ch) ? `\\${ch}` : ch
  }
  if (type === 'exact') return (path) => path === pattern
  if (type === 'prefix') return (path) => path.startsWith(pattern.slice(0, -2))
  if (type === 'suffix') {
    const suffix = pattern.slice(2)
    return (path) => path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1))
  }
  const regexp = new RegExp(`${re}$`)
  return (path) => regexp.test(path)
}

/** A matcher for paths relative to the context root: true when the path is excluded. */
export const matcher = (patterns) => {
  const compiled = patterns
    .map((p) => clean(p.trim()))
    .map((p) => {
      if (p === '!') throw new Error('.dockerignore: illegal exclusion pattern "!"')
      const exclusion = p.startsWith('!')
      return { exclusion, match: compile(exclusion ? p.slice(1) : p) }
    })
  const excluded = (file) => {
    let matched = false
    const parents = file.split('/').slice(0, -1)
    for (const p of compiled) {
      if (p.exclusion !== matched) continue
      const match = p.match(file) || parents.some((_, i) => p.match(parents.slice(0, i + 1).join('/')))
      if (match) matched = !p.exclusion
    }
    return matched
  }
  return { excluded, reincludes: compiled.some((p) => p.exclusion) }
}

// Docker's own cases (patternmatcher_test.go) for the forms implemented: [patterns, path, excluded].
const CASES = [
  [['**'], 'dir/file', true],
  [['dir/**'], 'dir/dir2/file', true],
  [['**/dir'], 'dir', true],
  [['**/dir'], 'dir/file', true],
  [['**/dir2/*'], 'dir/dir2/file', true],
  [['**file'], 'dir/file', true],
  [['**/file*.txt'], 'dir/dir/file.txt', true],
  [['**/**/*.txt2'], 'dir/dir/file.txt', false],
  [['**/*.txt'], 'file.txt', true],
  [['a**/*.txt'], 'a/dir/dir/file.txt', true],
  [['a/*.txt'], 'a/dir/file.txt', false],
  [['.*'], '.foo', true],
  [['.*'], 'foo', false],
  [['abc.def'], 'abcdef', false],
  [['abc?def'], 'abcZdef', true],
  [['abc/**'], 'abc', false],
  [['**/.foo'], 'bar.foo', false],
  [['a*/b'], 'a/c/b', false],
  [['*.go', '!fileutils.go'], 'fileutils.go', false],
  [['!fileutils.go', '*.go'], 'fileutils.go', true],
  [['docs', '!docs/README.md'], 'docs/README.md', false],
  [['**', '!util/docker/web'], 'util/docker/web/foo', false],
  [['**', '!util/docker/web', 'util/docker/web/foo'], 'util/docker/web/foo', true],
  // Anchored at the root, unlike .gitignore.
  [['*.log'], 'dir/a.log', false],
  [['node_modules'], 'console/node_modules/x', false],
  [['node_modules'], 'node_modules/x/y.js', true],
]

/** Throws if this port disagrees with Docker on its own test cases. */
export const selfCheck = () => {
  for (const [patterns, path, want] of CASES) {
    if (matcher(readPatterns(patterns.join('\n'))).excluded(path) !== want)
      throw new Error(`.dockerignore matcher: ${JSON.stringify(patterns)} on ${path} should ${want ? '' : 'not '}exclude it`)
  }
  return CASES.length
}
