import type { TObject, TSchema } from '@sinclair/typebox'
import { ChatCompletionRequestSchema } from '../../src/api/schemas/chat.js'
import { CompletionRequestSchema } from '../../src/api/schemas/completions.js'
import { EmbeddingRequestSchema } from '../../src/api/schemas/embeddings.js'
import { DetokenizeRequestSchema, TokenizeRequestSchema } from '../../src/api/schemas/tokenize.js'

/**
 * The request fields of each endpoint, derived from the schemas in src/api/schemas and reduced to what
 * the fuzzer needs to know whether a value is certainly invalid: its JSON type and numeric bounds.
 */
export type FieldKind =
  | 'number'
  | 'integer'
  | 'boolean'
  | 'string'
  | 'array'
  | 'object'
  | 'unknown'
  | 'stop'
  | 'prompt'
  | 'input'
  | 'legacy-logprobs'
  | 'messages'
  | 'tokens'
  | 'reasoning-effort'
  | 'encoding-format'

export interface Field {
  name: string
  kind: FieldKind
  min?: number
  max?: number
  /** The minimum itself is refused (repetition_penalty). */
  exclusiveMin?: boolean
  /** Required fields are not nullable. */
  required?: boolean
}

export interface Endpoint {
  /** Without the API prefix; every route is also served under /v1 and /v1/openai. */
  path: string
  /** A small valid body: with --max-tokens 8 it finishes in milliseconds. */
  base(): Record<string, unknown>
  fields: Field[]
}

/**
 * The fields of a request schema, read from the TypeBox schema itself (so a field added to the wire
 * schema is fuzzed without being listed here): the JSON type of a field (its non-null member) and its
 * numeric bounds. `shapes` names the fields whose composite shape the fuzzer knows wrong values for.
 */
function fieldsOf(schema: TObject, shapes: Partial<Record<string, FieldKind>> = {}): Field[] {
  return Object.entries(schema.properties).map(([name, property]) => {
    const members = nonNull(property)
    const required = schema.required?.includes(name) ?? false
    const kind = shapes[name] ?? (members.length === 1 ? jsonKind(members[0]!) : 'unknown')
    const numeric = members.find((m) => m.type === 'number' || m.type === 'integer')
    const bounds: Omit<Field, 'name' | 'kind'> = {}
    if (numeric?.exclusiveMinimum !== undefined) Object.assign(bounds, { min: numeric.exclusiveMinimum, exclusiveMin: true })
    else if (numeric?.minimum !== undefined) bounds.min = numeric.minimum as number
    if (numeric?.maximum !== undefined) bounds.max = numeric.maximum as number
    return { name, kind, ...bounds, ...(required ? { required: true } : {}) }
  })
}

/** The members of a (nullable, possibly nested) union other than null, or the schema itself. */
function nonNull(schema: TSchema): TSchema[] {
  const members = schema.anyOf as TSchema[] | undefined
  if (!members) return schema.type === 'null' ? [] : [schema]
  return members.flatMap(nonNull)
}

function jsonKind(schema: TSchema): FieldKind {
  const type = schema.type as string | undefined
  return type === 'number' || type === 'integer' || type === 'boolean' || type === 'string' || type === 'array' || type === 'object' ? type : 'unknown'
}

export const CHAT: Endpoint = {
  path: '/chat/completions',
  base: () => ({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  fields: fieldsOf(ChatCompletionRequestSchema, { stop: 'stop', messages: 'messages', reasoning_effort: 'reasoning-effort' }),
}

export const COMPLETIONS: Endpoint = {
  path: '/completions',
  base: () => ({ prompt: 'Once upon a time', max_tokens: 4 }),
  fields: fieldsOf(CompletionRequestSchema, { stop: 'stop', prompt: 'prompt', logprobs: 'legacy-logprobs' }),
}

export const EMBEDDINGS: Endpoint = {
  path: '/embeddings',
  base: () => ({ input: 'hello' }),
  fields: fieldsOf(EmbeddingRequestSchema, { input: 'input', encoding_format: 'encoding-format' }),
}

export const TOKENIZE: Endpoint = {
  path: '/tokenize',
  base: () => ({ prompt: 'hello' }),
  fields: fieldsOf(TokenizeRequestSchema, { messages: 'messages' }),
}

export const DETOKENIZE: Endpoint = {
  path: '/detokenize',
  base: () => ({ tokens: [1, 2, 3] }),
  fields: fieldsOf(DetokenizeRequestSchema, { tokens: 'tokens' }),
}

export const ENDPOINTS = [CHAT, COMPLETIONS, EMBEDDINGS, TOKENIZE, DETOKENIZE]

export const API_PREFIXES = ['/v1', '', '/v1/openai']

/** Values of another JSON type than the field takes (null is never here: every optional field is nullable). */
export const WRONG_TYPE_VALUES: Record<Exclude<FieldKind, 'unknown'>, unknown[]> = {
  number: ['1', 'one', true, false, [], [1], {}, { value: 1 }],
  integer: ['1', 'one', true, false, [], [1], {}, 1.5, -0.25],
  boolean: [1, 0, 'true', '', [], {}, [true]],
  string: [1, 0, true, [], ['x'], {}, { text: 'x' }],
  array: ['x', '', 1, true, {}, { 0: 1 }],
  object: ['x', 1, true, [], [{}]],
  stop: [1, true, {}, [1], [''], [null], ['ok', 2]],
  prompt: [1, true, {}, [], [true], [[]], [-1], ['a', 1], [[1, 'a']], [{}]],
  input: [1, true, {}, [true], [{}], ['a', 1], [[1, 'a']], [null]],
  'legacy-logprobs': ['1', [], {}, 1.5, -1, 21],
  messages: ['x', 1, true, {}, [], [1], [null], ['hi'], [[]]],
  tokens: ['x', 1, {}, [1.5], ['1'], [true], [null], [[1]]],
  'reasoning-effort': ['', 'max', 'HIGH', 1, true, [], {}],
  'encoding-format': ['', 'FLOAT', 'base32', 1, true, [], {}],
}

/** Whether a number is certainly refused by the field's schema (type and bounds); false = it may pass. */
export function numberViolates(field: Field, value: number): boolean {
  const wantsInteger = field.kind === 'integer' || field.kind === 'legacy-logprobs'
  if (wantsInteger && !Number.isInteger(value)) return true
  if (field.min !== undefined && (field.exclusiveMin ? value <= field.min : value < field.min)) return true
  return field.max !== undefined && value > field.max
}

export const isNumeric = (field: Field) => field.kind === 'number' || field.kind === 'integer' || field.kind === 'legacy-logprobs'
