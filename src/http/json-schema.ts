import * as t from 'io-ts'
import { PLAIN_TEXT_PATTERN, PlainTextType } from '../domain/plain-text.js'
import { ExactType, NullableType } from './exact.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The codec that decodes the route's body: its JSON Schema documents the body in /docs. */
    readonly body?: t.Mixed
  }
}

export type JsonSchema = Record<string, unknown>

/**
 * The JSON Schema of an io-ts codec, for the OpenAPI document: request bodies are documented
 * from the very codecs that decode them, so the reference cannot drift from what is accepted.
 * Covers the combinators the routes use; anything else is documented as "any value".
 */
export const jsonSchemaOf = (codec: t.Mixed): JsonSchema => {
  if (codec instanceof ExactType) {
    const inner = jsonSchemaOf(codec.inner)
    const ignored = Object.fromEntries(codec.tolerated.map((k) => [k, { description: 'read-only: accepted and ignored' }]))
    return { ...inner, properties: { ...(inner.properties as object), ...ignored }, additionalProperties: false }
  }
  if (codec instanceof NullableType) return { anyOf: [jsonSchemaOf(codec.inner), { type: 'null' }] }
  if (codec instanceof t.StringType) return { type: 'string' }
  if (codec instanceof PlainTextType) return { type: 'string', pattern: PLAIN_TEXT_PATTERN, description: 'no control or bidirectional formatting characters' }
  if (codec instanceof t.NumberType) return { type: 'number' }
  if (codec instanceof t.BooleanType) return { type: 'boolean' }
  if (codec instanceof t.NullType) return { type: 'null' }
  if (codec instanceof t.LiteralType) return { const: codec.value }
  if (codec instanceof t.KeyofType) return { type: 'string', enum: Object.keys(codec.keys) }
  if (codec instanceof t.ArrayType) return { type: 'array', items: jsonSchemaOf(codec.type) }
  if (codec instanceof t.DictionaryType) return { type: 'object', additionalProperties: jsonSchemaOf(codec.codomain) }
  if (codec instanceof t.InterfaceType || codec instanceof t.PartialType) {
    const props = codec.props as t.Props
    const properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, jsonSchemaOf(v)]))
    return { type: 'object', properties, ...(codec instanceof t.InterfaceType ? { required: Object.keys(props) } : {}) }
  }
  if (codec instanceof t.IntersectionType) {
    // Object members merge into one object (what every intersection here is).
    const parts = (codec.types as t.Mixed[]).map(jsonSchemaOf)
    return {
      type: 'object',
      properties: Object.assign({}, ...parts.map((p) => p.properties ?? {})),
      required: parts.flatMap((p) => (p.required as string[] | undefined) ?? []),
    }
  }
  if (codec instanceof t.UnionType) return { anyOf: (codec.types as t.Mixed[]).map(jsonSchemaOf) }
  return {}
}
