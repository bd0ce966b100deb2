import { invalidSchema, UnsupportedSchemaError } from './schema-error.js'

/** A JSON Schema object (a boolean schema is handled by the caller). */
export type SchemaObject = Record<string, unknown>
export type Schema = SchemaObject | boolean

export const isSchemaObject = (v: unknown): v is SchemaObject => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Keywords that constrain values (every draft from 04 to 2020-12). Any other keyword is an annotation
 * (`title`, `examples`, `readOnly`, OpenAPI's `nullable`/`discriminator`, vendor `x-…`): validators
 * ignore it, so the grammar may too.
 */
export const VALIDATION_KEYWORDS = new Set([
  'type', 'enum', 'const', 'multipleOf', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'format', 'maxItems', 'minItems', 'uniqueItems', 'maxContains', 'minContains',
  'maxProperties', 'minProperties', 'required', 'dependentRequired', 'dependencies', 'items', 'prefixItems',
  'additionalItems', 'contains', 'properties', 'patternProperties', 'additionalProperties', 'propertyNames',
  'unevaluatedItems', 'unevaluatedProperties', 'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else',
  'dependentSchemas', '$ref', '$dynamicRef', '$recursiveRef',
])

/**
 * The target of a local `$ref`: `#`, `#/$defs/x`, `#/definitions/x` or any JSON pointer into the
 * document (RFC 6901 escapes and percent-encoding). Remote references cannot be fetched.
 */
export function resolveRef(document: SchemaObject, ref: unknown, pointer: string): { schema: Schema; pointer: string } {
  if (typeof ref !== 'string') throw invalidSchema('$ref', pointer, 'must be a string')
  if (!ref.startsWith('#')) throw new UnsupportedSchemaError('$ref', pointer, `only references inside the schema ('#…') are resolved, not '${ref}'`)
  let fragment: string
  try {
    fragment = decodeURIComponent(ref.slice(1))
  } catch {
    throw invalidSchema('$ref', pointer, `'${ref}' is not a valid URI fragment`)
  }
  if (fragment !== '' && !fragment.startsWith('/')) {
    throw new UnsupportedSchemaError('$ref', pointer, `named anchors ('${ref}') are not resolved; use a JSON pointer`)
  }
  let target: unknown = document
  for (const segment of fragment.split('/').slice(1)) {
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~')
    target = isSchemaObject(target) || Array.isArray(target) ? (target as Record<string, unknown>)[key] : undefined
    if (target === undefined) throw invalidSchema('$ref', pointer, `'${ref}' points at nothing`)
  }
  if (typeof target !== 'boolean' && !isSchemaObject(target)) throw invalidSchema('$ref', pointer, `'${ref}' does not point at a schema`)
  return { schema: target, pointer: fragment }
}

/** Keywords whose combination in an allOf is the tighter of the two values. */
const TIGHTER: Record<string, (a: number, b: number) => number> = {
  minimum: Math.max, exclusiveMinimum: Math.max, minLength: Math.max, minItems: Math.max, minProperties: Math.max,
  maximum: Math.min, exclusiveMaximum: Math.min, maxLength: Math.min, maxItems: Math.min, maxProperties: Math.min,
}

/**
 * One schema equal to the conjunction of `schemas` (allOf, or anyOf's siblings distributed into each
 * branch), for the cases that merge exactly: properties (a shared property gets both schemas), required,
 * types and enums (intersected), numeric limits (the tighter one), equal keywords. Anything else cannot be
 * merged and is refused naming `keyword`.
 */
export function mergeSchemas(schemas: SchemaObject[], keyword: string, pointer: string): SchemaObject {
  const merged: SchemaObject = Object.create(null) as SchemaObject
  for (const schema of schemas) {
    for (const [key, value] of Object.entries(schema)) {
      if (!Object.hasOwn(merged, key)) {
        merged[key] = value
        continue
      }
      const current = merged[key]
      if (JSON.stringify(current) === JSON.stringify(value)) continue
      if (Object.hasOwn(TIGHTER, key) && typeof current === 'number' && typeof value === 'number') merged[key] = TIGHTER[key]!(current, value)
      else if (key === 'required') merged[key] = [...new Set([...(current as string[]), ...(value as string[])])]
      else if (key === 'properties') merged[key] = mergeProperties(current as SchemaObject, value as SchemaObject)
      else if (key === 'type') merged[key] = intersectTypes(current, value, keyword, pointer)
      else if (key === 'enum') merged[key] = (current as unknown[]).filter((a) => (value as unknown[]).some((b) => JSON.stringify(a) === JSON.stringify(b)))
      else if (key === 'allOf') merged[key] = [...(current as unknown[]), ...(value as unknown[])]
      else if (key === 'additionalProperties') merged[key] = current === false || value === false ? false : { allOf: [current, value] }
      else if (!VALIDATION_KEYWORDS.has(key)) continue
      else throw new UnsupportedSchemaError(keyword, pointer, `two of its schemas set '${key}' differently`)
    }
  }
  // A property that one schema forbids (additionalProperties: false) cannot come from another one.
  const closed = schemas.filter((s) => s.additionalProperties === false)
  if (closed.length > 0 && isSchemaObject(merged.properties)) {
    const allowed = (name: string) => closed.every((s) => isSchemaObject(s.properties) && Object.hasOwn(s.properties, name))
    const properties = Object.fromEntries(Object.entries(merged.properties).filter(([name]) => allowed(name)))
    const required = (merged.required as string[] | undefined) ?? []
    const lost = required.find((name) => !allowed(name))
    if (lost !== undefined) throw invalidSchema(keyword, pointer, `'${lost}' is required by one schema and forbidden by another`)
    merged.properties = properties
  }
  return merged
}

function mergeProperties(a: SchemaObject, b: SchemaObject): SchemaObject {
  const out: SchemaObject = Object.assign(Object.create(null) as SchemaObject, a)
  for (const [name, schema] of Object.entries(b)) out[name] = Object.hasOwn(out, name) ? { allOf: [out[name], schema] } : schema
  return out
}

function intersectTypes(a: unknown, b: unknown, keyword: string, pointer: string): unknown {
  const list = (t: unknown) => (Array.isArray(t) ? t : [t]) as string[]
  const both = list(a).flatMap((t) => (list(b).includes(t) ? [t] : t === 'integer' && list(b).includes('number') ? [t] : t === 'number' && list(b).includes('integer') ? ['integer'] : []))
  if (both.length === 0) throw invalidSchema(keyword, pointer, `no value has both type ${JSON.stringify(a)} and ${JSON.stringify(b)}`)
  return both.length === 1 ? both[0] : both
}

/** Which JSON type a value has ('integer' for whole numbers). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/**
 * Whether an enum or const value satisfies the simple keywords beside it (type, bounds, lengths,
 * pattern): `{"type": "string", "enum": [...]}` must produce values valid for both.
 */
export function satisfiesSiblings(value: unknown, schema: SchemaObject): boolean {
  const type = schema.type
  if (type !== undefined) {
    const types = (Array.isArray(type) ? type : [type]) as string[]
    const own = jsonType(value)
    if (!types.includes(own) && !(own === 'integer' && types.includes('number'))) return false
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return false
  if (schema.const !== undefined && JSON.stringify(schema.const) !== JSON.stringify(value)) return false
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) return false
    if (typeof schema.maximum === 'number' && value > schema.maximum) return false
    if (typeof schema.exclusiveMinimum === 'number' && value <= schema.exclusiveMinimum) return false
    if (typeof schema.exclusiveMaximum === 'number' && value >= schema.exclusiveMaximum) return false
  }
  if (typeof value === 'string') {
    const length = [...value].length
    if (typeof schema.minLength === 'number' && length < schema.minLength) return false
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) return false
    if (typeof schema.pattern === 'string') {
      try {
        if (!new RegExp(schema.pattern).test(value)) return false
      } catch {
        return false
      }
    }
  }
  return true
}

export type Draft = 'draft-04' | 'draft-06' | 'draft-07' | '2019-09' | '2020-12'

/**
 * The draft a schema is written in: its `$schema`, else guessed from its keywords (draft-04's boolean
 * exclusive bounds; `items` as an array, the form 2020-12 dropped), else 2020-12.
 */
export function schemaDraft(schema: object): Draft {
  const declared = (schema as { $schema?: unknown }).$schema
  if (typeof declared === 'string') {
    for (const draft of ['draft-04', 'draft-06', 'draft-07', '2019-09', '2020-12'] as const) if (declared.includes(draft)) return draft
  }
  const text = JSON.stringify(schema)
  if (/"exclusive(Min|Max)imum":(true|false)/.test(text)) return 'draft-04'
  if (/"items":\[/.test(text) || /"additionalItems":/.test(text)) return 'draft-07'
  return '2020-12'
}
