import * as t from 'io-ts'

/** The field names a codec knows: its props, or those of the members of an intersection. */
const keysOf = (codec: t.Mixed): string[] => {
  if (codec instanceof t.InterfaceType || codec instanceof t.PartialType) return Object.keys(codec.props as t.Props)
  if (codec instanceof t.IntersectionType) return (codec.types as t.Mixed[]).flatMap(keysOf)
  /* c8 ignore next: only object codecs are made exact */
  return []
}

/**
 * An object codec that refuses fields it does not know (io-ts's `exact` drops them silently, so
 * a misspelt `previous_expires_in_seconds` would quietly mean "grace 0"). `tolerated` names
 * fields that are accepted and ignored: the read-only fields the SDK sends back on update.
 */
export class ExactType<C extends t.Mixed> extends t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> {
  readonly _tag = 'ExactType'
  constructor(
    readonly inner: C,
    readonly tolerated: readonly string[] = [],
  ) {
    const known = new Set([...keysOf(inner), ...tolerated])
    super(
      inner.name,
      (u): u is t.TypeOf<C> => inner.is(u),
      (u, c) => {
        if (u !== null && typeof u === 'object' && !Array.isArray(u)) {
          const unknown = Object.keys(u).filter((k) => !known.has(k))
          if (unknown.length > 0)
            return t.failures(
              unknown.map((k) => {
                const value = (u as Record<string, unknown>)[k]
                // The empty-key entry keeps the field's path plain even when `inner` is a combinator.
                const context = [...c, { key: '', type: t.unknown, actual: u }, { key: k, type: t.unknown, actual: value }]
                return { value, context, message: 'is not a known field' }
              }),
            )
        }
        return inner.validate(u, c)
      },
      (a) => inner.encode(a),
    )
  }
}

export const exact = <C extends t.Mixed>(codec: C, tolerated: readonly string[] = []) => new ExactType(codec, tolerated)

/**
 * `null` (and, with `absent`, no value at all) or a value of `codec`, reporting only the codec's
 * problems for any other value (a union would also say "must be null", which is never what the
 * client meant).
 */
export class NullableType<C extends t.Mixed> extends t.Type<t.TypeOf<C> | null | undefined, unknown, unknown> {
  readonly _tag = 'NullableType'
  constructor(
    readonly inner: C,
    absent: boolean,
  ) {
    super(
      `${inner.name} or null`,
      (u): u is t.TypeOf<C> | null => u === null || (absent && u === undefined) || inner.is(u),
      (u, c) => (u === null || (absent && u === undefined) ? t.success(u as null) : inner.validate(u, c)),
      (a) => (a === null || a === undefined ? a : inner.encode(a)),
    )
  }
}

export const nullable = <C extends t.Mixed>(codec: C) => new NullableType(codec, false) as unknown as t.Type<t.TypeOf<C> | null, unknown, unknown>
/** A body that may be missing altogether (no body, or JSON null). */
export const optionalBody = <C extends t.Mixed>(codec: C) =>
  new NullableType(codec, true) as unknown as t.Type<t.TypeOf<C> | null | undefined, unknown, unknown>
