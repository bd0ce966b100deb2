import { randomInt } from 'node:crypto'
import { InvalidRequestError } from '../../errors.js'
import { checkFanOut } from './fan-out.js'
// The schema-to-grammar converter is pure (no engine state): converting here lets an unenforceable keyword fail as a 400.
import { jsonObjectGrammar } from '../../constraints/json-schema-grammar.js'
import { schemaConstraint } from '../../constraints/schema-constraint.js'
import type { ModelDefaults } from '../../generation/backend.js'
import { tokenIdLists, type GenerationRequest, type GrammarSpec, type TokenIdList } from '../../generation/request.js'
import type { GenerationParams, ResponseFormat } from '../schemas/generation-params.js'

/**
 * A refusal: [field, is its value a no-op?, why]. Known fields a server cannot honour are accepted at
 * their no-op value and refused otherwise: a 200 that silently ignores what was asked is worse than a 400.
 */
export type Refusal<T> = [keyof T, (value: unknown) => boolean, string]

/** `prefix` locates a nested object's fields in the 400 (`structured_outputs.`). */
export function refuseUnsupported<T extends object>(body: T, refusals: ReadonlyArray<Refusal<T>>, prefix = ''): void {
  for (const [param, isNoOp, why] of refusals) {
    const value = body[param]
    if (value != null && !isNoOp(value)) {
      const name = `${prefix}${String(param)}`
      throw new InvalidRequestError(`${why} Remove '${name}' or send its default.`, name)
    }
  }
}

const REFUSED: ReadonlyArray<Refusal<GenerationParams>> = [
  ['use_beam_search', (v) => v === false, 'Beam search is not supported.'],
  ['length_penalty', (v) => v === 1, "Beam search is not supported, so 'length_penalty' can only be 1."],
  ['early_stopping', (v) => v === false, "Beam search is not supported, so 'early_stopping' can only be false."],
  ['top_p_min', (v) => v === 0, "A dynamic top_p is not supported, so 'top_p_min' can only be 0."],
  ['bad_words', (v) => (v as unknown[]).length === 0, "'bad_words' is not supported; ban token ids with 'bad_token_ids'."],
  ['bad', (v) => (v as unknown[]).length === 0, "'bad' is not supported; ban token ids with 'bad_token_ids'."],
  ['prompt_logprobs', (v) => v === 0, 'Prompt logprobs are not supported.'],
  ['logits_processors', (v) => (v as unknown[]).length === 0, 'Server-side logits processors are not supported.'],
  ['return_tokens_as_token_ids', (v) => v === false, "'return_tokens_as_token_ids' is not supported."],
  ['return_token_ids', (v) => v === false, "'return_token_ids' is not supported."],
]

type StructuredOutputs = NonNullable<GenerationParams['structured_outputs']>

/** vLLM's structured_outputs options that tune its own backends: only their defaults mean nothing to change here. */
const STRUCTURED_REFUSED: ReadonlyArray<Refusal<StructuredOutputs>> = [
  ['structural_tag', () => false, 'Structural tags are not supported; use a JSON Schema, a grammar or a choice.'],
  ['whitespace_pattern', () => false, "A custom 'whitespace_pattern' is not supported."],
  ['disable_fallback', (v) => v === false, 'There is no fallback backend to disable.'],
  ['disable_any_whitespace', (v) => v === false, 'Whitespace in JSON output cannot be disabled.'],
  ['disable_additional_properties', (v) => v === false, "Use 'additionalProperties: false' in the schema instead."],
  ['_backend', () => false, 'The structured-output backend cannot be chosen.'],
  ['_backend_was_auto', (v) => v === false, 'The structured-output backend cannot be chosen.'],
]

/** Top-level fields of `body` that a schema does not know; they are ignored and listed in `x-ignored-params`. */
export function ignoredParams(body: object, schema: { properties: object }): string[] {
  return Object.keys(body).filter((key) => !Object.hasOwn(schema.properties, key))
}

/** The decoded fields every generation endpoint shares: sampling, length, stops, n, grammar. */
export type GenerationParamsDecoded = Omit<GenerationRequest, 'model' | 'input' | 'logprobs' | 'promptLogprobs' | 'echo'>

/**
 * What a model contributes to decoding: its `n` limit and the defaults it sets, and (when known) its slots
 * and vocabulary, against which n and token ids are checked here rather than in the engine.
 */
export type ModelLimits = Pick<ModelDefaults, 'maxChoices' | 'defaults' | 'trustRequestChatTemplate'> &
  // Optional: decoders that serve one generation (tokenize) need not state the fan-out cap.
  Partial<Pick<ModelDefaults, 'parallel' | 'vocabularySize' | 'maxFanOut'>>

/** A 400 naming `param` for the first id of `tokens` outside the vocabulary; `where` locates the list in the message. */
export function checkTokenIds(tokens: readonly number[], vocabularySize: number, param: string, where = param): void {
  const index = tokens.findIndex((token) => !(Number.isInteger(token) && token >= 0 && token < vocabularySize))
  if (index < 0) return
  throw new InvalidRequestError(`Token id ${tokens[index]} at ${where}[${index}] is not in this model's vocabulary (0–${vocabularySize - 1}).`, param)
}

/** The wire field that carries each list of token ids, for the 400 that names it. */
const TOKEN_ID_PARAMS: Record<TokenIdList, string> = {
  logitBias: 'logit_bias',
  stopTokenIds: 'stop_token_ids',
  bannedTokens: 'bad_token_ids',
  allowedTokens: 'allowed_token_ids',
  prompt: 'prompt',
}

/** Token ids the request names (biases, stops, bans, a token prompt) must be in the vocabulary; n must fit the slots. */
export function checkAgainstModel(request: GenerationRequest, limits: ModelLimits): void {
  const { vocabularySize, parallel } = limits
  if (vocabularySize !== undefined) {
    for (const [list, tokens] of Object.entries(tokenIdLists(request)) as Array<[TokenIdList, Iterable<number>]>) {
      for (const token of tokens) {
        if (!(Number.isInteger(token) && token >= 0 && token < vocabularySize)) {
          const param = TOKEN_ID_PARAMS[list]
          throw new InvalidRequestError(`Token id ${token} in '${param}' is not in this model's vocabulary (0–${vocabularySize - 1}).`, param)
        }
      }
    }
  }
  if (parallel !== undefined && request.n > parallel) {
    throw new InvalidRequestError(`n is ${request.n}, but this model serves at most ${parallel} choices at once (--parallel).`, 'n')
  }
}

/**
 * Shared fields of a chat or completions request → their protocol-free form. A value absent from the
 * request comes from the model's configured defaults, then OpenAI's.
 */
export function decodeGenerationParams(body: GenerationParams, limits: ModelLimits): GenerationParamsDecoded {
  refuseUnsupported(body, REFUSED)
  const n = body.n ?? 1
  if (n > limits.maxChoices) {
    throw new InvalidRequestError(`n is ${n}, but at most ${limits.maxChoices} choices are served per request.`, 'n')
  }
  if (limits.maxFanOut !== undefined) checkFanOut(body, limits.maxFanOut)
  if (body.best_of != null && body.best_of !== n) {
    throw new InvalidRequestError(`best_of (${body.best_of}) must equal n (${n}): ranking candidates is not supported.`, 'best_of')
  }
  if (body.truncate_prompt_tokens === 0) {
    throw new InvalidRequestError("'truncate_prompt_tokens' keeps the last k ≥ 1 prompt tokens, or -1 for as many as fit the context.", 'truncate_prompt_tokens')
  }
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop
  const defaults = limits.defaults
  const topK = body.top_k ?? defaults.topK ?? 0
  const topP = body.top_p ?? defaults.topP ?? 1
  // top_p 0 keeps only the most likely token: greedy, sampled exactly as temperature 0 is.
  const greedy = topP === 0
  return {
    sampling: {
      temperature: greedy ? 0 : (body.temperature ?? defaults.temperature ?? 1),
      topP: greedy ? 1 : topP,
      topK: topK > 0 ? topK : null,
      minP: body.min_p ?? defaults.minP ?? 0,
      // The request's seed, else the server's (--seed), else a random one per request.
      seed: body.seed != null ? toUint32(body.seed) : (defaults.seed ?? randomInt(0, 2 ** 32)),
      frequencyPenalty: body.frequency_penalty ?? 0,
      presencePenalty: body.presence_penalty ?? 0,
      repetitionPenalty: body.repetition_penalty ?? 1,
      logitBias: decodeLogitBias(body.logit_bias),
      bannedTokens: body.bad_token_ids ?? [],
      allowedTokens: body.allowed_token_ids ?? null,
    },
    maxTokens: body.max_tokens ?? defaults.maxTokens ?? null,
    stop: {
      strings: stop,
      tokenIds: body.stop_token_ids ?? [],
      includeStopString: body.include_stop_str_in_output ?? false,
      minTokens: body.min_tokens ?? 0,
      ignoreEos: body.ignore_eos ?? false,
    },
    n,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    truncatePromptTokens: body.truncate_prompt_tokens === -1 ? 'fit' : (body.truncate_prompt_tokens ?? null),
    priority: body.priority ?? 0,
    cacheSalt: body.cache_salt ?? null,
    grammar: decodeOutputConstraint(body),
  }
}

/**
 * Options that cannot go with a constrained output (a grammar, or tool calls enforced by one): a grammar
 * ends only at an end-of-generation token, which ignore_eos and min_tokens would skip or forbid, and
 * node-llama-cpp's controlled evaluation (the logprobs path) ignores grammars.
 */
export function refuseBesideConstrainedOutput(request: Pick<GenerationRequest, 'grammar' | 'tools' | 'stop' | 'logprobs'>): void {
  const constrained = request.grammar !== null || (request.tools != null && request.tools.choice.kind !== 'none')
  if (!constrained) return
  if (request.stop.ignoreEos) throw new InvalidRequestError('ignore_eos cannot be combined with structured output.', 'ignore_eos')
  if (request.stop.minTokens > 0) throw new InvalidRequestError('min_tokens cannot be combined with structured output.', 'min_tokens')
  if (request.logprobs) throw new InvalidRequestError('logprobs cannot be combined with structured output yet.', 'logprobs')
}

/**
 * The one constraint on the output's form, from whichever field carries it: OpenAI's response_format,
 * llama-server's `grammar` / `json_schema`, vLLM's `guided_*` or `structured_outputs`. Two at once are refused
 * rather than one being silently dropped.
 */
function decodeOutputConstraint(body: GenerationParams): GrammarSpec | null {
  const specs: GrammarSpec[] = []
  const structured = body.structured_outputs
  const format = body.response_format == null ? null : decodeResponseFormat(body.response_format)
  if (format) specs.push(format)
  if (body.grammar != null) specs.push(gbnf(body.grammar, 'grammar'))
  if (body.json_schema != null) specs.push(schemaGrammar(body.json_schema, 'json_schema'))
  if (body.guided_json != null) specs.push(schemaGrammar(parseJsonText(body.guided_json, 'guided_json'), 'guided_json'))
  if (body.guided_grammar != null) specs.push(gbnf(body.guided_grammar, 'guided_grammar'))
  if (body.guided_choice != null) specs.push(choiceGrammar(body.guided_choice, 'guided_choice'))
  if (body.guided_regex != null) refuseRegex('guided_regex')
  if (structured != null) {
    refuseUnsupported(structured, STRUCTURED_REFUSED, 'structured_outputs.')
    if (structured.json != null) specs.push(schemaGrammar(parseJsonText(structured.json, 'structured_outputs.json'), 'structured_outputs.json'))
    if (structured.grammar != null) specs.push(gbnf(structured.grammar, 'structured_outputs.grammar'))
    if (structured.choice != null) specs.push(choiceGrammar(structured.choice, 'structured_outputs.choice'))
    if (structured.regex != null) refuseRegex('structured_outputs.regex')
    if (structured.json_object) specs.push({ gbnf: jsonObjectGrammar(), schema: { type: 'object' }, param: 'structured_outputs.json_object' })
  }
  if (specs.length > 1) {
    throw new InvalidRequestError(
      `'${specs[0]!.param}' and '${specs[1]!.param}' both constrain the output; send one of them.`,
      specs[1]!.param,
    )
  }
  return specs[0] ?? null
}

function gbnf(grammar: string, param: string): GrammarSpec {
  if (!grammar.trim()) throw new InvalidRequestError(`'${param}' must hold GBNF text.`, param)
  return { gbnf: grammar, schema: null, param }
}

/** Exactly one of the strings (GBNF string literals share JSON's escapes). */
function choiceGrammar(choices: readonly string[], param: string): GrammarSpec {
  return { gbnf: `root ::= ${choices.map((choice) => JSON.stringify(choice)).join(' | ')}`, schema: null, param }
}

function refuseRegex(param: string): never {
  throw new InvalidRequestError(`'${param}' is not supported: regular expressions cannot be enforced; use a JSON Schema, a grammar or a choice.`, param)
}

/** vLLM takes a schema as an object or as JSON text. */
function parseJsonText(value: unknown, param: string): unknown {
  if (typeof value !== 'string') return value
  try {
    return JSON.parse(value)
  } catch {
    throw new InvalidRequestError(`'${param}' is not valid JSON.`, param)
  }
}

/** `strict: false` relaxes keywords the grammar cannot enforce; true or absent refuses them. */
function schemaGrammar(schema: unknown, param: string, strict: boolean | null | undefined = true): GrammarSpec {
  const { gbnf, schema: effective, relaxed } = schemaConstraint(schema, { param, strict: strict !== false })
  return { gbnf, schema: effective, param, ...(relaxed.length > 0 ? { relaxed } : {}) }
}

/**
 * `response_format` variants: OpenAI's text / json_object / json_schema, DeepInfra's `json`, llama.cpp's
 * schema beside `json_object`, and `grammar` carrying GBNF. Schemas become grammars here so that a
 * keyword that cannot be enforced is a 400 naming it, before anything runs.
 */
function decodeResponseFormat(format: ResponseFormat): GrammarSpec | null {
  switch (format.type) {
    case 'text':
      return null
    case 'json_object':
    case 'json':
      if (format.schema != null) return schemaGrammar(format.schema, 'response_format.schema')
      return { gbnf: jsonObjectGrammar(), schema: { type: 'object' }, param: 'response_format' }
    case 'json_schema': {
      const spec = format.json_schema
      if (spec?.schema == null) throw new InvalidRequestError("'response_format.json_schema.schema' is required.", 'response_format.json_schema.schema')
      return schemaGrammar(spec.schema, 'response_format.json_schema.schema', spec.strict)
    }
    case 'grammar':
      return gbnf(format.grammar ?? '', 'response_format.grammar')
    default:
      throw new InvalidRequestError(
        `response_format type '${format.type}' is not supported; use text, json_object, json_schema or grammar.`,
        'response_format.type',
      )
  }
}

/** JSON object keys are strings: each must spell a token id. Ids beyond the vocabulary are refused by checkAgainstModel. */
function decodeLogitBias(bias: Record<string, number> | null | undefined): Map<number, number> {
  const decoded = new Map<number, number>()
  for (const [key, value] of Object.entries(bias ?? {})) {
    if (!/^\d+$/.test(key)) throw new InvalidRequestError(`logit_bias keys must be token ids; got '${key}'.`, 'logit_bias')
    decoded.set(Number(key), value)
  }
  return decoded
}

/** OpenAI seeds are int64; the engine takes a uint32. The reduction is deterministic for any input. */
function toUint32(seed: number): number {
  return Number(BigInt.asUintN(32, BigInt(seed)))
}
