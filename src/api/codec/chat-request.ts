import { randomInt } from 'node:crypto'
import { InvalidRequestError } from '../../errors.js'
// The schema-to-grammar converter is pure (no engine state): converting here lets an unenforceable keyword fail as a 400.
import { jsonObjectGrammar, jsonSchemaGrammar, UnsupportedSchemaError } from '../../engine/json-schema-grammar.js'
import type { ChatMessage, GenerationRequest, GrammarSpec } from '../../engine/types.js'
import { ChatCompletionRequestSchema, type ChatCompletionRequest, type ChatMessageWire, type ResponseFormat } from '../schemas/chat.js'

type Param = keyof ChatCompletionRequest

/**
 * Parameters the schema knows but this server cannot honour (yet). Each is accepted at its no-op value
 * and refused otherwise: a 200 that silently ignores what was asked is worse than a clear 400.
 */
const REFUSED_UNLESS_NO_OP: Array<[Param, (v: unknown) => boolean, string]> = [
  ['use_beam_search', (v) => v === false, 'Beam search is not supported.'],
  ['bad_words', (v) => (v as unknown[]).length === 0, "'bad_words' is not supported; ban token ids with 'bad_token_ids'."],
  ['bad', (v) => (v as unknown[]).length === 0, "'bad' is not supported; ban token ids with 'bad_token_ids'."],
  ['prompt_logprobs', (v) => v === 0, 'Prompt logprobs are not supported.'],
  ['logits_processors', (v) => (v as unknown[]).length === 0, 'Server-side logits processors are not supported.'],
  ['return_tokens_as_token_ids', (v) => v === false, "'return_tokens_as_token_ids' is not supported."],
  ['echo', (v) => v === false, "'echo' is not supported for chat."],
  ['tools', (v) => (v as unknown[]).length === 0, 'Tool calling is not supported yet.'],
  ['tool_choice', (v) => v === 'none' || v === 'auto', 'Tool calling is not supported yet.'],
  ['functions', (v) => (v as unknown[]).length === 0, "Legacy 'functions' are not supported; use 'tools' once available."],
  ['function_call', (v) => v === 'none' || v === 'auto', "Legacy 'function_call' is not supported."],
  ['add_generation_prompt', (v) => v === true, "'add_generation_prompt: false' is not supported yet."],
  ['continue_final_message', (v) => v === false, "'continue_final_message' is not supported yet."],
  ['chat_template', () => false, 'Per-request chat templates are not supported yet.'],
  ['chat_template_kwargs', (v) => Object.keys(v as object).length === 0, "'chat_template_kwargs' is not supported yet."],
  ['chat_template_args', (v) => Object.keys(v as object).length === 0, "'chat_template_args' is not supported yet."],
  ['modalities', (v) => (v as string[]).every((m) => m === 'text'), 'Only text output is supported.'],
  ['audio', () => false, 'Audio output is not supported.'],
  ['web_search_options', () => false, 'Web search is not supported.'],
]

const KNOWN_PARAMS = new Set(Object.keys(ChatCompletionRequestSchema.properties))

/** Top-level fields this server does not know; they are ignored and listed in `x-ignored-params`. */
export function ignoredParams(body: object): string[] {
  return Object.keys(body).filter((key) => !KNOWN_PARAMS.has(key))
}

/** Wire chat request → protocol-free GenerationRequest. `model` is the resolved model id. */
export function decodeChatRequest(body: ChatCompletionRequest, model: string, limits: { maxChoices: number }): GenerationRequest {
  for (const [param, isNoOp, why] of REFUSED_UNLESS_NO_OP) {
    const value = body[param]
    if (value != null && !isNoOp(value)) throw new InvalidRequestError(`${why} Remove '${param}' or send its default.`, param)
  }
  const n = body.n ?? 1
  if (n > limits.maxChoices) {
    throw new InvalidRequestError(`n is ${n}, but at most ${limits.maxChoices} choices are served per request.`, 'n')
  }
  if (body.best_of != null && body.best_of !== n) {
    throw new InvalidRequestError(`best_of (${body.best_of}) must equal n (${n}): ranking candidates is not supported.`, 'best_of')
  }
  if (body.top_logprobs != null && body.logprobs !== true) {
    throw new InvalidRequestError("'top_logprobs' needs 'logprobs: true'.", 'top_logprobs')
  }
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop
  const topK = body.top_k ?? 0
  return {
    model,
    input: { kind: 'chat', messages: body.messages.map(decodeMessage) },
    sampling: {
      temperature: body.temperature ?? 1,
      topP: body.top_p ?? 1,
      topK: topK > 0 ? topK : null,
      minP: body.min_p ?? 0,
      seed: body.seed == null ? randomInt(0, 2 ** 32) : toUint32(body.seed),
      frequencyPenalty: body.frequency_penalty ?? 0,
      presencePenalty: body.presence_penalty ?? 0,
      repetitionPenalty: body.repetition_penalty ?? 1,
      logitBias: decodeLogitBias(body.logit_bias),
      bannedTokens: body.bad_token_ids ?? [],
      allowedTokens: body.allowed_token_ids ?? null,
    },
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    stop: {
      strings: stop,
      tokenIds: body.stop_token_ids ?? [],
      includeStopString: body.include_stop_str_in_output ?? false,
      minTokens: body.min_tokens ?? 0,
      ignoreEos: body.ignore_eos ?? false,
    },
    n,
    logprobs: body.logprobs === true ? { top: body.top_logprobs ?? 0 } : null,
    skipSpecialTokens: body.skip_special_tokens ?? true,
    truncatePromptTokens: body.truncate_prompt_tokens ?? null,
    priority: body.priority ?? 0,
    grammar: body.response_format == null ? null : decodeResponseFormat(body.response_format),
  }
}

/**
 * `response_format` variants: OpenAI's text / json_object / json_schema, DeepInfra's `json`, llama.cpp's
 * schema beside `json_object`, and `grammar` carrying GBNF. Schemas become grammars here so that a
 * keyword that cannot be enforced is a 400 naming it, before anything runs.
 */
function decodeResponseFormat(format: ResponseFormat): GrammarSpec | null {
  const withSchema = (schema: unknown, param: string): GrammarSpec => {
    try {
      return { gbnf: jsonSchemaGrammar(schema), schema: schema as object, param }
    } catch (error) {
      if (error instanceof UnsupportedSchemaError) throw new InvalidRequestError(`${error.message} Simplify the schema or remove that keyword.`, param)
      throw error
    }
  }
  switch (format.type) {
    case 'text':
      return null
    case 'json_object':
    case 'json':
      if (format.schema != null) return withSchema(format.schema, 'response_format.schema')
      return { gbnf: jsonObjectGrammar(), schema: { type: 'object' }, param: 'response_format' }
    case 'json_schema': {
      const spec = format.json_schema
      if (spec?.schema == null) throw new InvalidRequestError("'response_format.json_schema.schema' is required.", 'response_format.json_schema.schema')
      return withSchema(spec.schema, 'response_format.json_schema.schema')
    }
    case 'grammar': {
      const grammar = format.grammar
      if (typeof grammar !== 'string' || !grammar.trim()) throw new InvalidRequestError("'response_format.grammar' must hold GBNF text.", 'response_format.grammar')
      return { gbnf: grammar, schema: null, param: 'response_format.grammar' }
    }
    default:
      throw new InvalidRequestError(
        `response_format type '${format.type}' is not supported; use text, json_object, json_schema or grammar.`,
        'response_format.type',
      )
  }
}

/** JSON object keys are strings: each must spell a token id. Ids beyond the vocabulary are checked by the engine. */
function decodeLogitBias(bias: Record<string, number> | null | undefined): Map<number, number> {
  const decoded = new Map<number, number>()
  for (const [key, value] of Object.entries(bias ?? {})) {
    if (!/^\d+$/.test(key)) throw new InvalidRequestError(`logit_bias keys must be token ids; got '${key}'.`, 'logit_bias')
    decoded.set(Number(key), value)
  }
  return decoded
}

function decodeMessage(message: ChatMessageWire, index: number): ChatMessage {
  const param = `messages[${index}]`
  if (message.tool_calls != null && message.tool_calls.length > 0) {
    throw new InvalidRequestError('Tool calls in the conversation are not supported by this server yet.', `${param}.tool_calls`)
  }
  const role = message.role === 'developer' ? 'system' : message.role
  if (role === 'tool' && !message.tool_call_id) {
    throw new InvalidRequestError(`A 'tool' message needs 'tool_call_id'.`, `${param}.tool_call_id`)
  }
  if (message.content == null && role !== 'assistant') {
    throw new InvalidRequestError(`A '${message.role}' message needs 'content'.`, `${param}.content`)
  }
  return { role, content: decodeContent(message.content ?? '', param), ...(message.name ? { name: message.name } : {}) }
}

/** Text parts are joined with '\n', vLLM's rule; other part types are refused by name. */
function decodeContent(content: string | Array<{ type: string; [key: string]: unknown }>, param: string): string {
  if (typeof content === 'string') return content
  return content
    .map((part, i) => {
      if (part.type === 'text' || part.type === 'refusal') {
        const text = part[part.type]
        if (typeof text !== 'string') {
          throw new InvalidRequestError(`A '${part.type}' content part needs a string '${part.type}'.`, `${param}.content[${i}].${part.type}`)
        }
        return text
      }
      throw new InvalidRequestError(
        `Content part type '${part.type}' is not supported by this model; send text parts only.`,
        `${param}.content[${i}].type`,
      )
    })
    .join('\n')
}

/** OpenAI seeds are int64; the engine takes a uint32. The reduction is deterministic for any input. */
function toUint32(seed: number): number {
  return Number(BigInt.asUintN(32, BigInt(seed)))
}
