// A Dockerfile read into stages of instructions, as BuildKit's parser reads it: `\` continues a
// line, comment lines are dropped (also inside a continuation), `[...]` is the JSON (exec) form.
// Anything this check cannot apply faithfully (variables, ADD, ENTRYPOINT, another escape
// character...) is refused with the line, so a new Dockerfile feature fails loudly here.

const KNOWN = new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'CMD', 'USER', 'VOLUME', 'EXPOSE', 'HEALTHCHECK', 'LABEL'])

/** Splits on blanks, honouring "..." and '...' quotes and `\` escapes (Docker's word splitting for ENV). */
export const words = (s, where) => {
  const out = []
  let cur = null
  let quote = null
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (quote) {
      if (c === quote) quote = null
      else cur += c === '\\' && quote === '"' && i + 1 < s.length ? s[++i] : c
    } else if (c === '"' || c === "'") (quote = c), (cur ??= '')
    else if (c === '\\' && i + 1 < s.length) cur = (cur ?? '') + s[++i]
    else if (/\s/.test(c)) cur !== null && out.push(cur), (cur = null)
    else cur = (cur ?? '') + c
  }
  if (quote) throw new Error(`${where}: unbalanced quotes in "${s}"`)
  if (cur !== null) out.push(cur)
  return out
}

const execForm = (rest) => {
  if (!rest.startsWith('[')) return undefined
  try {
    const a = JSON.parse(rest)
    return Array.isArray(a) && a.every((x) => typeof x === 'string') ? a : undefined
  } catch {
    return undefined
  }
}

/** `[{ from, name, steps: [{ op, args, line }] }]`, one entry per FROM. */
export const parseDockerfile = (text) => {
  const lines = text.split(/\r?\n/)
  if (/^#\s*escape\s*=/i.test(lines[0] ?? '')) throw new Error('Dockerfile: an escape directive is not supported by this check')
  const stages = []
  for (let n = 0; n < lines.length; n++) {
    const first = n + 1
    let line = lines[n]
    if (/^\s*(#|$)/.test(line)) continue
    while (/\\\s*$/.test(line) && n + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ')
      n++
      if (!/^\s*#/.test(lines[n])) line += lines[n]
    }
    const m = /^\s*(\S+)\s*(.*?)\s*$/.exec(line)
    const op = m[1].toUpperCase()
    const rest = m[2]
    const where = `Dockerfile line ${first} (${op})`
    if (!KNOWN.has(op)) throw new Error(`${where}: this check does not know how to apply ${op}; teach .ci/image-check or drop it`)
    if (op !== 'RUN' && op !== 'HEALTHCHECK' && op !== 'CMD' && rest.includes('$'))
      throw new Error(`${where}: variable substitution is not supported by this check`)
    if (op === 'FROM') {
      const [image, as, name, ...extra] = words(rest, where)
      if (image.startsWith('--') || extra.length > 0 || (as !== undefined && (as.toUpperCase() !== 'AS' || !name)))
        throw new Error(`${where}: expected "FROM image [AS name]"`)
      stages.push({ from: image, name, steps: [] })
      continue
    }
    if (stages.length === 0) throw new Error(`${where}: comes before any FROM`)
    const step = { op, line: first, where, rest, exec: execForm(rest) }
    if (op === 'COPY') {
      const args = step.exec ?? words(rest, where)
      step.flags = {}
      while (args[0]?.startsWith('--')) {
        const [, flag, value] = /^--([a-z]+)(?:=(.*))?$/.exec(args.shift()) ?? []
        if (!['from', 'chown', 'chmod', 'link'].includes(flag)) throw new Error(`${where}: COPY flag not supported by this check`)
        step.flags[flag] = value ?? true
      }
      if (args.length < 2) throw new Error(`${where}: COPY needs a source and a destination`)
      step.dest = args.pop()
      step.sources = args
      if (args.some((s) => /[*?[]/.test(s))) throw new Error(`${where}: wildcard sources are not supported by this check`)
    } else if (op === 'ENV') {
      const w = words(rest, where)
      step.env = w[0]?.includes('=') ? w.map((kv) => kv.split(/=(.*)/s).slice(0, 2)) : [[w[0], rest.slice(rest.indexOf(w[0]) + w[0].length).trim()]]
    } else if (op === 'HEALTHCHECK') {
      const hc = /^(?:--\S+\s+)*CMD\s+(.*)$/is.exec(rest)
      step.exec = hc ? execForm(hc[1]) : undefined
      if (!step.exec && !/^NONE$/i.test(rest)) throw new Error(`${where}: only HEALTHCHECK [options] CMD ["..."] is supported by this check`)
    } else if (op === 'CMD' && !step.exec) {
      throw new Error(`${where}: only the exec form CMD ["..."] is supported by this check`)
    }
    stages.at(-1).steps.push(step)
  }
  return stages
}
