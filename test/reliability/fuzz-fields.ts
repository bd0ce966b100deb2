/**
 * The request fields of each endpoint as the schemas in src/api/schemas declare them, reduced to what the
 * fuzzer needs to know whether a value is certainly invalid: its JSON type and numeric bounds.
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
  /** The minimum itself is refused (top_p, repetition_penalty). */
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

const f = (name: string, kind: FieldKind, bounds: Omit<Field, 'name' | 'kind'> = {}): Field => ({ name, kind, ...bounds })

/** src/api/schemas/generation-params.ts: shared by chat and completions. */
const GENERATION_FIELDS: Field[] = [
  f('frequency_penalty', 'number', { min: -2, max: 2 }),
  f('presence_penalty', 'number', { min: -2, max: 2 }),
  f('temperature', 'number', { min: 0, max: 2 }),
  f('top_p', 'number', { min: 0, exclusiveMin: true, max: 1 }),
  f('min_p', 'number', { min: 0, max: 1 }),
  f('repetition_penalty', 'number', { min: 0, exclusiveMin: true, max: 10 }),
  f('max_tokens', 'integer', { min: 1 }),
  f('n', 'integer', { min: 1 }),
  f('seed', 'integer'),
  f('top_k', 'integer', { min: -1 }),
  f('min_tokens', 'integer', { min: 0 }),
  f('truncate_prompt_tokens', 'integer', { min: 1 }),
  f('best_of', 'integer', { min: 1 }),
  f('priority', 'integer'),
  f('prompt_logprobs', 'integer', { min: 0 }),
  f('logit_bias', 'object'),
  f('response_format', 'object'),
  f('stream_options', 'object'),
  f('stop', 'stop'),
  f('stream', 'boolean'),
  f('ignore_eos', 'boolean'),
  f('include_stop_str_in_output', 'boolean'),
  f('skip_special_tokens', 'boolean'),
  f('spaces_between_special_tokens', 'boolean'),
  f('use_beam_search', 'boolean'),
  f('return_tokens_as_token_ids', 'boolean'),
  f('user', 'string'),
  f('stop_token_ids', 'array'),
  f('bad_token_ids', 'array'),
  f('allowed_token_ids', 'array'),
  f('bad_words', 'array'),
  f('bad', 'array'),
  f('logits_processors', 'array'),
]

export const CHAT: Endpoint = {
  path: '/chat/completions',
  base: () => ({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  fields: [
    ...GENERATION_FIELDS,
    f('model', 'string'),
    f('messages', 'messages', { required: true }),
    f('logprobs', 'boolean'),
    f('top_logprobs', 'integer', { min: 0, max: 20 }),
    f('max_completion_tokens', 'integer', { min: 1 }),
    f('tools', 'array'),
    f('tool_choice', 'unknown'),
    f('parallel_tool_calls', 'boolean'),
    f('echo', 'boolean'),
    f('reasoning_effort', 'reasoning-effort'),
    f('include_reasoning', 'boolean'),
    f('add_generation_prompt', 'boolean'),
    f('continue_final_message', 'boolean'),
    f('chat_template', 'string'),
    f('chat_template_kwargs', 'object'),
    f('chat_template_args', 'object'),
    f('documents', 'array'),
    f('functions', 'array'),
    f('function_call', 'unknown'),
    f('modalities', 'array'),
    f('audio', 'unknown'),
    f('web_search_options', 'unknown'),
  ],
}

export const COMPLETIONS: Endpoint = {
  path: '/completions',
  base: () => ({ prompt: 'Once upon a time', max_tokens: 4 }),
  fields: [
    ...GENERATION_FIELDS,
    f('model', 'string'),
    f('prompt', 'prompt', { required: true }),
    f('suffix', 'string'),
    f('echo', 'boolean'),
    f('logprobs', 'legacy-logprobs', { min: 0, max: 20 }),
  ],
}

export const EMBEDDINGS: Endpoint = {
  path: '/embeddings',
  base: () => ({ input: 'hello' }),
  fields: [
    f('input', 'input', { required: true }),
    f('model', 'string'),
    f('dimensions', 'integer', { min: 1 }),
    f('encoding_format', 'encoding-format'),
    f('user', 'string'),
  ],
}

export const TOKENIZE: Endpoint = {
  path: '/tokenize',
  base: () => ({ prompt: 'hello' }),
  fields: [
    f('model', 'string'),
    f('prompt', 'string'),
    f('add_special_tokens', 'boolean'),
    f('messages', 'messages'),
    f('add_generation_prompt', 'boolean'),
    f('continue_final_message', 'boolean'),
    f('chat_template', 'string'),
    f('chat_template_kwargs', 'object'),
    f('tools', 'array'),
    f('return_token_strs', 'boolean'),
  ],
}

export const DETOKENIZE: Endpoint = {
  path: '/detokenize',
  base: () => ({ tokens: [1, 2, 3] }),
  fields: [f('model', 'string'), f('tokens', 'tokens', { required: true }), f('skip_special_tokens', 'boolean')],
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
