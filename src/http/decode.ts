import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import type { FieldErrors } from '../domain/errors.js'
import { invalid } from './errors.js'
import { ExactType, NullableType } from './exact.js'

const isCombinator = (type: t.Decoder<unknown, unknown> | undefined): boolean =>
  type instanceof ExactType || type instanceof NullableType ? isCombinator(type.inner) : type instanceof t.IntersectionType || type instanceof t.UnionType

/** What was expected, in words a client understands (not io-ts's full type signature). */
const shape = (type: t.Decoder<unknown, unknown> | undefined): string => {
  if (!type) return 'a valid value'
  if (type instanceof ExactType) return shape(type.inner)
  if (type instanceof NullableType) return `${shape(type.inner)} or null`
  if (type instanceof t.ArrayType) return 'an array'
  if (type instanceof t.InterfaceType || type instanceof t.PartialType || type instanceof t.DictionaryType) return 'an object'
  if (type instanceof t.IntersectionType && type.types.every((m: t.Decoder<unknown, unknown>) => shape(m) === 'an object')) return 'an object'
  return type.name
}

const describe = (e: t.ValidationError): [string, string] => {
  // A key under an intersection or union is the index of a member codec, not a field: skip it.
  const path = e.context
    .filter((c, i) => c.key !== '' && !isCombinator(e.context[i - 1]?.type))
    .map((c) => c.key)
    .reduce((acc, k) => (/^\d+$/.test(k) ? `${acc}[${k}]` : acc ? `${acc}.${k}` : k), '')
  const expected = shape(e.context[e.context.length - 1]?.type)
  return [path || 'body', e.value === undefined ? 'is required' : e.message ?? `must be ${expected}`]
}

/** Decodes a request part with an io-ts codec; failures are a 422 naming each field at fault. */
export const decodeOr422 = <A, O>(codec: t.Type<A, O, unknown>, value: unknown): A => {
  const r = codec.decode(value)
  if (E.isRight(r)) return r.right
  const errors: FieldErrors = {}
  for (const e of r.left) {
    const [field, message] = describe(e)
    // A field may be called anything the client sent, `valueOf` or `__proto__` included: own keys only.
    if (!Object.hasOwn(errors, field)) Object.defineProperty(errors, field, { value: [], enumerable: true, writable: true, configurable: true })
    const list = errors[field] as string[]
    if (!list.includes(message)) list.push(message)
  }
  const first = Object.keys(errors)[0] as string
  throw invalid(`${first}: ${errors[first]?.[0]}`, errors)
}
