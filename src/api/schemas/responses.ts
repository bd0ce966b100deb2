import { Type, type Static } from '@sinclair/typebox'
import { Nullable } from './common.js'
import { GenerationParamsProperties } from './generation-params.js'
import { REQUEST_LIMITS } from './limits.js'

/**
 * `POST /v1/responses` (OpenAI's Responses API), fields in OpenAI's documentation order, then the sampling
 * extras chat accepts. Items, tools and formats are checked in the codec so that a bad one gets a 400 naming
 * e.g. `input[2].content[0].type` rather than a schema dump. Unknown top-level keys are accepted and ignored.
 */

// Chat's fields that the Responses API spells differently (max_output_tokens, text.format, its own
// stream_options) or does not have (n) are left out; the sampling extras stay, as on chat.
const { n: _n, max_tokens: _maxTokens, response_format: _responseFormat, stream_options: _streamOptions, ...SamplingExtras } =
  GenerationParamsProperties

export const ReasoningEffortSchema = Type.Union(
  [Type.Literal('none'), Type.Literal('minimal'), Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')],
  { description: 'Passed to the chat template as `reasoning_effort` (as on chat).' },
)

export const TextFormatSchema = Type.Object(
  {
    type: Type.String({ description: '`text`, `json_object` or `json_schema` (with `name`, `schema`, `strict`).' }),
    name: Type.Optional(Type.String()),
    description: Type.Optional(Type.String()),
    schema: Type.Optional(Type.Unknown()),
    strict: Nullable(Type.Boolean()),
  },
  { additionalProperties: true },
)

/** Fields that decide what is generated; shared by create and input_tokens. */
const ConversationProperties = {
  model: Nullable(Type.String({ description: 'Model id or alias; empty or omitted = the default model.' })),
  input: Type.Optional(
    Type.Union([Type.String(), Type.Array(Type.Unknown(), { maxItems: REQUEST_LIMITS.messages })], {
      description: 'Text, or a list of items: messages, `function_call`, `function_call_output`, `reasoning`, `item_reference`.',
    }),
  ),
  instructions: Nullable(Type.String({ description: 'A system message put first; not carried over by `previous_response_id`.' })),
  previous_response_id: Nullable(Type.String({ description: "Continue a stored response: its input and output come before this input." })),
  tools: Nullable(Type.Array(Type.Unknown(), { maxItems: REQUEST_LIMITS.tools, description: '`{type: "function", name, description?, parameters?, strict?}`' })),
  tool_choice: Nullable(Type.Unknown({ description: '`none`, `auto`, `required` or `{type: "function", name}`.' })),
  parallel_tool_calls: Nullable(Type.Boolean({ description: 'Defaults to true; false = at most one call.' })),
  text: Nullable(
    Type.Object(
      {
        format: Nullable(TextFormatSchema),
        verbosity: Nullable(Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high')], { description: 'Echoed; default medium.' })),
      },
      { additionalProperties: true, description: '`format`: text (default), json_object or json_schema, enforced by a grammar.' },
    ),
  ),
  reasoning: Nullable(
    Type.Object(
      { effort: Nullable(ReasoningEffortSchema), summary: Nullable(Type.String()), generate_summary: Nullable(Type.String()) },
      { additionalProperties: true },
    ),
  ),
  truncation: Nullable(
    Type.Union([Type.Literal('auto'), Type.Literal('disabled')], {
      description: '`disabled` (default): 400 when the input does not fit; `auto`: the oldest input items are dropped until it does.',
    }),
  ),
  conversation: Nullable(Type.Unknown({ description: 'Refused: the Conversations API is not served.' })),
}

export const ResponseCreateRequestSchema = Type.Object(
  {
    ...SamplingExtras,
    ...ConversationProperties,
    background: Nullable(Type.Boolean({ description: 'Refused when true: responses run while the request is open.' })),
    include: Nullable(Type.Array(Type.String(), { description: 'Refused when not empty: no includable output is produced.' })),
    max_output_tokens: Nullable(Type.Integer({ minimum: 1 })),
    max_tool_calls: Nullable(Type.Integer({ minimum: 1, description: 'Refused: calls are bounded per turn by `parallel_tool_calls`.' })),
    metadata: Nullable(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), { maxProperties: 16 })),
    prompt: Nullable(Type.Unknown({ description: 'Refused: stored prompt templates are not served.' })),
    prompt_cache_key: Nullable(Type.String({ description: 'Accepted; prefixes are cached per slot whatever the key.' })),
    safety_identifier: Nullable(Type.String()),
    service_tier: Nullable(Type.String()),
    store: Nullable(Type.Boolean({ description: 'Defaults to true: the response can be retrieved and continued.' })),
    stream: Nullable(Type.Boolean()),
    stream_options: Nullable(Type.Object({ include_obfuscation: Nullable(Type.Boolean()) }, { additionalProperties: true })),
    top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20, description: 'Refused above 0.' })),
    user: Nullable(Type.String()),
  },
  { additionalProperties: true },
)

export type ResponseCreateRequest = Static<typeof ResponseCreateRequestSchema>

export const InputTokensRequestSchema = Type.Object(ConversationProperties, { additionalProperties: true })
export type InputTokensRequest = Static<typeof InputTokensRequestSchema>

export const InputTokensSchema = Type.Object({ object: Type.Literal('response.input_tokens'), input_tokens: Type.Integer() })

export const ResponseUsageSchema = Type.Object({
  input_tokens: Type.Integer(),
  input_tokens_details: Type.Object({ cached_tokens: Type.Integer() }),
  output_tokens: Type.Integer(),
  output_tokens_details: Type.Object({ reasoning_tokens: Type.Integer() }),
  total_tokens: Type.Integer(),
})

/** Output items as OpenAI sends them; spelled out in the codec's types (responses-object.ts). */
const ItemSchema = Type.Object({ id: Type.String(), type: Type.String() }, { additionalProperties: true })

export const ResponseObjectSchema = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('response'),
    created_at: Type.Integer(),
    status: Type.Union(['completed', 'incomplete', 'failed', 'in_progress'].map((s) => Type.Literal(s))),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
    incomplete_details: Type.Union([Type.Object({ reason: Type.String() }), Type.Null()]),
    model: Type.String(),
    output: Type.Array(ItemSchema),
    usage: Type.Union([ResponseUsageSchema, Type.Null()]),
  },
  { additionalProperties: true, description: 'The request fields are echoed beside these (instructions, tools, text, …).' },
)

export const ResponseIdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) })

export const InputItemsQuerySchema = Type.Object(
  {
    after: Type.Optional(Type.String({ description: 'An item id: list the items after it.' })),
    // A query string is text (the body's strict no-coercion rule holds here too): digits, read in the codec.
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: '1–100, default 20.' })),
    order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')], { description: 'Default desc.' })),
    include: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  },
  { additionalProperties: true },
)
export type InputItemsQuery = Static<typeof InputItemsQuerySchema>

export const InputItemListSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(ItemSchema),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean(),
})

export const DeletedResponseSchema = Type.Object({ id: Type.String(), object: Type.Literal('response'), deleted: Type.Literal(true) })
