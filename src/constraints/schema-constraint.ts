import { InvalidRequestError } from '../errors.js'
import { jsonSchemaGrammar, type RelaxedKeyword } from './json-schema-grammar.js'
import { compileValidator } from './json-validator.js'
import { isSchemaObject } from './schema-document.js'
import { UnsupportedSchemaError } from './schema-error.js'

/**
 * The one entry point from a protocol's schema field to an output constraint. Every codec calls it:
 * chat `response_format`, tool `parameters`, vLLM's `guided_json`, llama-server's `json_schema`,
 * Responses `text.format`, Anthropic `input_schema`. Any problem with the schema is a 400 here, before
 * anything is generated, naming the field (`param`) and the keyword's JSON pointer.
 */
export interface SchemaConstraint {
  /** The grammar (llama.cpp GBNF) of the JSON texts valid against the schema. */
  gbnf: string
  /** The schema the output is validated against at the end: the given one, less any relaxed keywords. */
  schema: object
  /** Keywords left out under `strict: false`, as `keyword at param#/pointer`, for the `x-schema-relaxed` header. */
  relaxed: string[]
}

export interface ConstraintOptions {
  /** The request field holding the schema, named in errors (e.g. `response_format.json_schema.schema`). */
  param: string
  /**
   * true (and absent, for OpenAI's `strict`): a keyword the grammar cannot enforce is a 400. false: it is
   * left out of the grammar and of the final validation, and reported in `relaxed`.
   */
  strict: boolean
  /** The request has a `strict` switch to turn off (default true), so the 400 for a keyword suggests it. */
  canRelax?: boolean
}

/** Compiled constraints by schema text: clients send the same schema with every request. */
const cache = new Map<string, SchemaConstraint>()
const MAX_CACHED = 256

export function schemaConstraint(schema: unknown, { param, strict, canRelax = true }: ConstraintOptions): SchemaConstraint {
  if (!isSchemaObject(schema) && typeof schema !== 'boolean') throw new InvalidRequestError(`'${param}' must be a JSON Schema object.`, param)
  const key = `${strict ? 's' : 'r'}${param}\u0000${JSON.stringify(schema)}`
  const hit = cache.get(key)
  if (hit) {
    cache.delete(key)
    cache.set(key, hit)
    return hit
  }
  let gbnf: string
  let relaxed: RelaxedKeyword[]
  try {
    ;({ gbnf, relaxed } = jsonSchemaGrammar(schema, { strict }))
  } catch (error) {
    if (!(error instanceof UnsupportedSchemaError)) throw error
    const relax = canRelax ? ", or send 'strict': false to generate without that keyword" : ''
    const fix = error.relaxable ? ` Simplify the schema${relax}.` : error.budget ? '' : ' Fix the schema.'
    throw new InvalidRequestError(`In '${param}': ${error.message}${fix}`, param)
  }
  const objectSchema = typeof schema === 'boolean' ? {} : schema
  const effective = relaxed.length === 0 ? objectSchema : withoutKeywords(objectSchema, relaxed)
  try {
    compileValidator(effective)
  } catch (error) {
    throw new InvalidRequestError(`In '${param}': the JSON Schema does not compile: ${(error as Error).message}.`, param)
  }
  const constraint = { gbnf, schema: effective, relaxed: relaxed.map((r) => `${r.keyword} at ${param}#${parentOf(r.pointer)}`) }
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!)
  cache.set(key, constraint)
  return constraint
}

function parentOf(pointer: string): string {
  return pointer.slice(0, pointer.lastIndexOf('/'))
}

/** Keywords holding subschemas, to find a relaxed keyword's every occurrence when its pointer is inside a merge. */
const SUBSCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']
const SUBSCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items']
const SUBSCHEMAS = ['items', 'additionalItems', 'additionalProperties', 'propertyNames', 'contains', 'not', 'if', 'then', 'else', 'unevaluatedItems', 'unevaluatedProperties']

/**
 * A copy of the schema without the relaxed keywords. A pointer into a merged allOf has no place in the
 * original: then the keyword is removed wherever it appears, so the final validation cannot refuse what
 * the grammar was allowed to generate.
 */
function withoutKeywords(schema: object, relaxed: readonly RelaxedKeyword[]): object {
  const copy = structuredClone(schema) as Record<string, unknown>
  for (const { keyword, pointer } of relaxed) {
    const segments = pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    let node: unknown = copy
    for (const segment of segments.slice(0, -1)) node = isSchemaObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[segment] : undefined
    if (isSchemaObject(node) && keyword in node) delete node[keyword]
    else removeEverywhere(copy, keyword)
  }
  return copy
}

function removeEverywhere(schema: unknown, keyword: string): void {
  if (!isSchemaObject(schema)) return
  delete schema[keyword]
  for (const key of SUBSCHEMA_MAPS) if (isSchemaObject(schema[key])) for (const sub of Object.values(schema[key] as object)) removeEverywhere(sub, keyword)
  for (const key of SUBSCHEMA_LISTS) if (Array.isArray(schema[key])) for (const sub of schema[key] as unknown[]) removeEverywhere(sub, keyword)
  for (const key of SUBSCHEMAS) removeEverywhere(schema[key], keyword)
}
