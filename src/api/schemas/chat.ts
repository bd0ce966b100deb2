import { Type, type Static } from '@sinclair/typebox'
import { Nullable, UsageSchema } from './common.js'
import { REQUEST_LIMITS } from './limits.js'
import { FinishReasonSchema, GenerationParamsProperties, StopReasonSchema, responseHead } from './generation-params.js'

/**
 * `POST /v1/chat/completions`, fields in OpenAI's documentation order. Unknown top-level keys are
 * accepted and ignored (clients and frameworks add their own); known keys are strict: a wrong type or
 * an out-of-range value is a 400 naming the field.
 */

// Parts are checked in the codec, so an unsupported part gets a 400 naming its type, not a schema dump.
const ContentPartSchema = Type.Object({ type: Type.String() }, { additionalProperties: true })

const ContentSchema = Type.Union([
  Type.String(),
  Type.Array(Type.Union([Type.String({ description: 'A bare string is a text part (vLLM).' }), ContentPartSchema]), {
    description: 'text and refusal parts; assistant messages also `{type: "thinking", thinking}` (their reasoning).',
  }),
])

export const ChatMessageSchema = Type.Object(
  {
    role: Type.Union(
      [Type.Literal('system'), Type.Literal('developer'), Type.Literal('user'), Type.Literal('assistant'), Type.Literal('tool'), Type.Literal('function')],
      { description: '`developer` is treated as `system`; the legacy `function` (with `name`) as the `tool` result of the latest call of that name.' },
    ),
    content: Nullable(ContentSchema),
    name: Nullable(Type.String()),
    tool_call_id: Nullable(Type.String()),
    tool_calls: Nullable(Type.Array(Type.Unknown())),
    function_call: Nullable(Type.Unknown()),
    refusal: Nullable(Type.String()),
    reasoning_content: Nullable(Type.String({ description: "Assistant turns: the model's earlier thinking (passed to the template)." })),
    reasoning: Nullable(Type.String({ description: 'Same as `reasoning_content` (vLLM’s newer name).' })),
  },
  { additionalProperties: true },
)

export const ChatCompletionRequestSchema = Type.Object(
  {
    ...GenerationParamsProperties,
    model: Nullable(Type.String({ description: 'Model id or alias; empty or omitted = the default model.' })),
    messages: Type.Array(ChatMessageSchema, { minItems: 1, maxItems: REQUEST_LIMITS.messages }),
    logprobs: Nullable(Type.Boolean()),
    top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
    max_completion_tokens: Nullable(Type.Integer({ minimum: 1, description: 'Wins over max_tokens.' })),
    // Tools are checked in the codec, so a bad definition gets a 400 naming e.g. `tools[1].function.name`.
    // An empty list is a 400, as at OpenAI; the clients we serve leave `tools` out when they have none.
    tools: Nullable(
      Type.Array(Type.Unknown(), {
        minItems: 1,
        maxItems: REQUEST_LIMITS.tools,
        description: '`{type: "function", function: {name, description?, parameters?, strict?}}`',
      }),
    ),
    tool_choice: Nullable(Type.Unknown({ description: '`none`, `auto`, `required` or `{type: "function", function: {name}}`.' })),
    parallel_tool_calls: Nullable(Type.Boolean({ description: 'Defaults to true; false = at most one call.' })),
    echo: Nullable(Type.Boolean()),
    reasoning_effort: Nullable(
      Type.Union([Type.Literal('none'), Type.Literal('minimal'), Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], {
        description: 'Passed to the chat template as `reasoning_effort`; `none` also sets `enable_thinking: false`.',
      }),
    ),
    include_reasoning: Nullable(Type.Boolean({ description: 'Defaults to true; false = no reasoning fields in the response.' })),
    add_generation_prompt: Nullable(Type.Boolean({ description: 'Defaults to true; false = no assistant header.' })),
    continue_final_message: Nullable(Type.Boolean({ description: 'Continue the last (assistant) message instead of starting a new one.' })),
    chat_template: Nullable(Type.String({ description: "A Jinja chat template replacing the model's for this request." })),
    chat_template_kwargs: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'Extra template variables, e.g. `enable_thinking`.' })),
    chat_template_args: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'Same as `chat_template_kwargs` (merged).' })),
    // What true asks (vLLM) is what every chat prompt gets: the renderer puts the model's BOS first when its template did not.
    add_special_tokens: Nullable(
      Type.Boolean({ description: "Either value: the model's BOS (when its tokenizer adds one) starts the prompt whether or not the template wrote it." }),
    ),
    documents: Nullable(Type.Array(Type.Record(Type.String(), Type.Unknown()), { description: 'RAG documents passed to the template.' })),
    functions: Nullable(Type.Array(Type.Unknown(), { maxItems: REQUEST_LIMITS.tools })),
    function_call: Nullable(Type.Unknown()),
    modalities: Nullable(Type.Array(Type.String())),
    audio: Nullable(Type.Unknown()),
    web_search_options: Nullable(Type.Unknown()),
  },
  { additionalProperties: true },
)

export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema>
export type ChatMessageWire = Static<typeof ChatMessageSchema>

const TopLogprobSchema = Type.Object({ token: Type.String(), logprob: Type.Number(), bytes: Type.Array(Type.Integer()) })

export const ChoiceLogprobsSchema = Type.Object({
  content: Type.Array(Type.Composite([TopLogprobSchema, Type.Object({ top_logprobs: Type.Array(TopLogprobSchema) })])),
  refusal: Type.Null(),
})

export const ToolCallSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String(), arguments: Type.String({ description: 'The arguments as a JSON text.' }) }),
})

/** OpenAI's streamed call: the first delta of a call has id, type and name; later ones only argument text. */
export const ToolCallDeltaSchema = Type.Object({
  index: Type.Integer(),
  id: Type.Optional(Type.String()),
  type: Type.Optional(Type.Literal('function')),
  function: Type.Object({ name: Type.Optional(Type.String()), arguments: Type.String() }),
})

/** The call of a request that used the legacy `functions` (answered in kind, as OpenAI does). */
const LegacyFunctionCallSchema = Type.Object({ name: Type.String(), arguments: Type.String({ description: 'The arguments as a JSON text.' }) })

/** A legacy `functions` request finishes with `function_call` where a `tools` request has `tool_calls`. */
const ChatFinishReasonSchema = Type.Union([FinishReasonSchema, Type.Literal('function_call')])

export const ChatCompletionSchema = Type.Object({
  ...responseHead('chat.completion'),
  choices: Type.Array(
    Type.Object({
      index: Type.Integer(),
      message: Type.Object({
        role: Type.Literal('assistant'),
        content: Type.Union([Type.String(), Type.Null()]),
        refusal: Type.Null(),
        tool_calls: Type.Optional(Type.Array(ToolCallSchema)),
        function_call: Type.Optional(LegacyFunctionCallSchema),
        reasoning_content: Type.Optional(Type.String()),
        reasoning: Type.Optional(Type.String({ description: 'Same as `reasoning_content` (vLLM’s newer name).' })),
      }),
      logprobs: Type.Union([ChoiceLogprobsSchema, Type.Null()]),
      finish_reason: ChatFinishReasonSchema,
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
      delta: Type.Object({
        role: Type.Optional(Type.Literal('assistant')),
        content: Type.Optional(Type.String()),
        reasoning_content: Type.Optional(Type.String()),
        reasoning: Type.Optional(Type.String()),
        tool_calls: Type.Optional(Type.Array(ToolCallDeltaSchema)),
        function_call: Type.Optional(Type.Object({ name: Type.Optional(Type.String()), arguments: Type.String() })),
      }),
      logprobs: Type.Union([ChoiceLogprobsSchema, Type.Null()]),
      finish_reason: Type.Union([ChatFinishReasonSchema, Type.Null()]),
      stop_reason: Type.Optional(StopReasonSchema),
    }),
  ),
  usage: Type.Optional(Type.Union([UsageSchema, Type.Null()])),
})

export type ChatCompletionChunk = Static<typeof ChatCompletionChunkSchema>
export type ChoiceLogprobs = Static<typeof ChoiceLogprobsSchema>
