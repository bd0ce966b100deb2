import { Type, type Static } from '@sinclair/typebox'
import { Nullable, UsageSchema } from './common.js'

/**
 * `POST /v1/chat/completions`, fields in OpenAI's documentation order. Unknown top-level keys are
 * accepted and ignored (clients and frameworks add their own); known keys are strict: a wrong type or
 * an out-of-range value is a 400 naming the field.
 */

// Parts are checked in the codec, so an unsupported part gets a 400 naming its type, not a schema dump.
const ContentPartSchema = Type.Object({ type: Type.String() }, { additionalProperties: true })

const ContentSchema = Type.Union([Type.String(), Type.Array(ContentPartSchema)])

export const ChatMessageSchema = Type.Object(
  {
    role: Type.Union(
      [Type.Literal('system'), Type.Literal('developer'), Type.Literal('user'), Type.Literal('assistant'), Type.Literal('tool')],
      { description: '`developer` is treated as `system`.' },
    ),
    content: Nullable(ContentSchema),
    name: Nullable(Type.String()),
    tool_call_id: Nullable(Type.String()),
    tool_calls: Nullable(Type.Array(Type.Unknown())),
    refusal: Nullable(Type.String()),
  },
  { additionalProperties: true },
)

/** text | json_object | json_schema (OpenAI), json (DeepInfra), json_object + schema (llama.cpp), grammar (GBNF). */
export const ResponseFormatSchema = Type.Object(
  {
    type: Type.String(),
    json_schema: Type.Optional(
      Type.Object(
        { name: Type.Optional(Type.String()), description: Type.Optional(Type.String()), schema: Type.Optional(Type.Unknown()), strict: Nullable(Type.Boolean()) },
        { additionalProperties: true },
      ),
    ),
    schema: Type.Optional(Type.Unknown()),
    grammar: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
)

export const ChatCompletionRequestSchema = Type.Object(
  {
    model: Nullable(Type.String({ description: 'Model id or alias; empty or omitted = the default model.' })),
    messages: Type.Array(ChatMessageSchema, { minItems: 1 }),
    frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
    logit_bias: Nullable(Type.Record(Type.String(), Type.Number({ minimum: -100, maximum: 100 }))),
    logprobs: Nullable(Type.Boolean()),
    top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
    max_tokens: Nullable(Type.Integer({ minimum: 1 })),
    max_completion_tokens: Nullable(Type.Integer({ minimum: 1, description: 'Wins over max_tokens.' })),
    n: Nullable(Type.Integer({ minimum: 1 })),
    presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
    response_format: Nullable(ResponseFormatSchema),
    seed: Nullable(Type.Integer({ description: 'Same seed and parameters give the same output. Random when absent.' })),
    stop: Nullable(
      Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { maxItems: 32 })], {
        description: 'Up to 32 non-empty strings; generation ends before them and they are not returned.',
      }),
    ),
    stream: Nullable(Type.Boolean()),
    stream_options: Nullable(
      Type.Object(
        { include_usage: Nullable(Type.Boolean()), continuous_usage_stats: Nullable(Type.Boolean()) },
        { additionalProperties: true },
      ),
    ),
    temperature: Nullable(Type.Number({ minimum: 0, maximum: 2, description: '0 = greedy. Default 1.' })),
    top_p: Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Default 1.' })),
    tools: Nullable(Type.Array(Type.Unknown())),
    tool_choice: Nullable(Type.Unknown()),
    user: Nullable(Type.String()),
    // Sampling and decoding extras of vLLM-style providers (Baseten, W&B, DeepInfra).
    top_k: Nullable(Type.Integer({ minimum: -1, description: '0 or -1 = off (default).' })),
    min_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    repetition_penalty: Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 10, description: 'Multiplicative (HF/vLLM); 1 = off.' })),
    min_tokens: Nullable(Type.Integer({ minimum: 0, description: 'EOS and stops are suppressed until this many tokens.' })),
    ignore_eos: Nullable(Type.Boolean()),
    stop_token_ids: Nullable(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 64 })),
    include_stop_str_in_output: Nullable(Type.Boolean()),
    skip_special_tokens: Nullable(Type.Boolean()),
    spaces_between_special_tokens: Nullable(Type.Boolean({ description: 'Accepted; llama.cpp detokenization has no such spacing.' })),
    bad_token_ids: Nullable(Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 4096 })),
    allowed_token_ids: Nullable(Type.Array(Type.Integer({ minimum: 0 }), { minItems: 1 })),
    truncate_prompt_tokens: Nullable(Type.Integer({ minimum: 1, description: 'Keep only the last k prompt tokens.' })),
    best_of: Nullable(Type.Integer({ minimum: 1 })),
    priority: Nullable(Type.Integer({ description: 'Queue order when the server is busy: lower goes first (vLLM). Default 0.' })),
    use_beam_search: Nullable(Type.Boolean()),
    // Known fields this server cannot honour faithfully: refused unless at their no-op value.
    bad_words: Nullable(Type.Array(Type.String())),
    bad: Nullable(Type.Array(Type.String())),
    prompt_logprobs: Nullable(Type.Integer({ minimum: 0 })),
    logits_processors: Nullable(Type.Array(Type.Unknown())),
    return_tokens_as_token_ids: Nullable(Type.Boolean()),
    echo: Nullable(Type.Boolean()),
    add_generation_prompt: Nullable(Type.Boolean()),
    continue_final_message: Nullable(Type.Boolean()),
    chat_template: Nullable(Type.String()),
    chat_template_kwargs: Nullable(Type.Record(Type.String(), Type.Unknown())),
    chat_template_args: Nullable(Type.Record(Type.String(), Type.Unknown())),
    functions: Nullable(Type.Array(Type.Unknown())),
    function_call: Nullable(Type.Unknown()),
    modalities: Nullable(Type.Array(Type.String())),
    audio: Nullable(Type.Unknown()),
    web_search_options: Nullable(Type.Unknown()),
  },
  { additionalProperties: true },
)

export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema>
export type ChatMessageWire = Static<typeof ChatMessageSchema>
export type ResponseFormat = Static<typeof ResponseFormatSchema>

const FinishReasonSchema = Type.Union([Type.Literal('stop'), Type.Literal('length')])

const TopLogprobSchema = Type.Object({ token: Type.String(), logprob: Type.Number(), bytes: Type.Array(Type.Integer()) })

export const ChoiceLogprobsSchema = Type.Object({
  content: Type.Array(Type.Composite([TopLogprobSchema, Type.Object({ top_logprobs: Type.Array(TopLogprobSchema) })])),
  refusal: Type.Null(),
})
const StopReasonSchema = Type.Union([Type.String(), Type.Integer(), Type.Null()])

/** Fields every completion body and chunk starts with. */
const responseHead = <T extends string>(object: T) => ({
  id: Type.String(),
  object: Type.Literal(object),
  created: Type.Integer(),
  model: Type.String(),
  system_fingerprint: Type.String(),
})

export const ChatCompletionSchema = Type.Object({
  ...responseHead('chat.completion'),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      message: Type.Object({
        role: Type.Literal('assistant'),
        content: Type.Union([Type.String(), Type.Null()]),
        refusal: Type.Null(),
      }),
      logprobs: Type.Union([ChoiceLogprobsSchema, Type.Null()]),
      finish_reason: FinishReasonSchema,
      stop_reason: StopReasonSchema,
    }),
  ),
  usage: UsageSchema,
})

export type ChatCompletion = Static<typeof ChatCompletionSchema>

export const ChatCompletionChunkSchema = Type.Object({
  ...responseHead('chat.completion.chunk'),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      delta: Type.Object({ role: Type.Optional(Type.Literal('assistant')), content: Type.Optional(Type.String()) }),
      logprobs: Type.Union([ChoiceLogprobsSchema, Type.Null()]),
      finish_reason: Type.Union([FinishReasonSchema, Type.Null()]),
      stop_reason: Type.Optional(StopReasonSchema),
    }),
  ),
  usage: Type.Optional(Type.Union([UsageSchema, Type.Null()])),
})

export type ChatCompletionChunk = Static<typeof ChatCompletionChunkSchema>
export type ChoiceLogprobs = Static<typeof ChoiceLogprobsSchema>
