import { Type, type Static } from '@sinclair/typebox'
import { Nullable } from './common.js'
import { REQUEST_LIMITS } from './limits.js'

/**
 * Anthropic's Messages API: `POST /v1/messages` and `POST /v1/messages/count_tokens`, fields in Anthropic's
 * documentation order. Unknown top-level keys are ignored and listed in `x-ignored-params`, as on every route.
 * Content blocks, tools and tool_choice are checked in the codec, so an unsupported block or a server tool gets
 * a 400 naming it rather than a schema dump.
 */

const BlockSchema = Type.Object({ type: Type.String() }, { additionalProperties: true })

const TextBlockSchema = Type.Object(
  { type: Type.Literal('text'), text: Type.String() },
  { additionalProperties: true, description: '`cache_control` and `citations` are accepted and ignored.' },
)

export const MessageParamSchema = Type.Object(
  {
    role: Type.Union([Type.Literal('user'), Type.Literal('assistant'), Type.Literal('system')], {
      description:
        'Consecutive turns of one role are merged into one, as Anthropic does. `system` is refused (400), as on Anthropic’s API: the system prompt goes in the top-level `system`.',
    }),
    content: Type.Union([Type.String(), Type.Array(BlockSchema, { description: 'text, tool_use, tool_result, thinking, redacted_thinking.' })]),
  },
  { additionalProperties: true },
)

const ThinkingSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('enabled'), Type.Literal('disabled'), Type.Literal('adaptive')], {
      description: '`enabled` and `adaptive` turn the template’s thinking on, `disabled` off; absent = the template’s default.',
    }),
    budget_tokens: Type.Optional(Type.Integer({ minimum: 1, description: '`enabled`: thinking tokens at most; required, and below max_tokens.' })),
    display: Nullable(Type.Union([Type.Literal('summarized'), Type.Literal('omitted')], { description: '`omitted`: thinking is not returned.' })),
  },
  { additionalProperties: true },
)

const ToolChoiceSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('auto'), Type.Literal('any'), Type.Literal('tool'), Type.Literal('none')]),
    name: Type.Optional(Type.String({ description: '`tool`: the tool to call.' })),
    disable_parallel_tool_use: Type.Optional(Type.Boolean({ description: 'true = one call at most (`any`/`tool`: exactly one).' })),
  },
  { additionalProperties: true },
)

const JsonOutputFormatSchema = Type.Object(
  {
    type: Type.Literal('json_schema'),
    schema: Type.Record(Type.String(), Type.Unknown(), {
      description: 'A JSON Schema the text must match, enforced by a grammar; a keyword it cannot enforce → 400 naming it.',
    }),
  },
  { additionalProperties: true },
)

const OutputConfigSchema = Type.Object(
  {
    effort: Nullable(
      Type.Union([Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('xhigh'), Type.Literal('max')], {
        description: 'Passed to the chat template as `reasoning_effort` (`xhigh` and `max` as `high`, the most templates know).',
      }),
    ),
    format: Nullable(JsonOutputFormatSchema, { description: 'Structured output: the one text block is JSON valid against `schema`.' }),
  },
  { additionalProperties: true, description: 'Other keys → 400 naming them.' },
)

/** What count_tokens reads: everything that shapes the prompt. */
const PromptProperties = {
  model: Type.String({ description: "Model id or alias (aliases may be patterns such as 'claude-*'); empty = the default model." }),
  messages: Type.Array(MessageParamSchema, { minItems: 1, maxItems: REQUEST_LIMITS.messages }),
  system: Nullable(Type.Union([Type.String(), Type.Array(TextBlockSchema)])),
  thinking: Nullable(ThinkingSchema),
  tools: Nullable(
    Type.Array(Type.Unknown(), {
      maxItems: REQUEST_LIMITS.tools,
      description: 'Custom tools `{name, description?, input_schema}`; server tools (`web_search_…`, `bash_…`, …) are refused.',
    }),
  ),
  tool_choice: Nullable(ToolChoiceSchema),
  // Server-side execution environments: refused when set (nothing runs on this server but the model).
  mcp_servers: Nullable(Type.Array(Type.Unknown(), { description: 'Refused: this server connects to no MCP servers.' })),
  container: Nullable(Type.Unknown({ description: 'Refused: this server runs no code containers.' })),
  // Read by count_tokens too: `effort` shapes the prompt, and a schema that cannot be enforced is the same 400 on both.
  output_config: Nullable(OutputConfigSchema),
  output_format: Nullable(JsonOutputFormatSchema, { description: 'The deprecated beta spelling of `output_config.format`.' }),
}

export const CountTokensRequestSchema = Type.Object(PromptProperties, { additionalProperties: true })

export const MessagesRequestSchema = Type.Object(
  {
    ...PromptProperties,
    max_tokens: Type.Integer({ minimum: 1, description: 'Output tokens at most, thinking included; clamped to the model’s maxTokens.' }),
    metadata: Nullable(Type.Object({ user_id: Nullable(Type.String()) }, { additionalProperties: true })),
    stop_sequences: Nullable(
      Type.Array(Type.String({ minLength: 1, maxLength: REQUEST_LIMITS.stopStringChars }), { maxItems: REQUEST_LIMITS.stopStrings }),
    ),
    stream: Nullable(Type.Boolean()),
    temperature: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    top_k: Nullable(Type.Integer({ minimum: 0, description: '0 = off.' })),
    top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
    cache_control: Nullable(Type.Unknown({ description: 'Accepted and ignored: the prefix cache is automatic (see usage.cache_read_input_tokens).' })),
    service_tier: Nullable(Type.String({ description: 'Accepted and ignored.' })),
  },
  { additionalProperties: true },
)

export type MessagesRequest = Static<typeof MessagesRequestSchema>
export type CountTokensRequest = Static<typeof CountTokensRequestSchema>
export type MessageParam = Static<typeof MessageParamSchema>
export type ContentBlockParam = Static<typeof BlockSchema>

export const AnthropicUsageSchema = Type.Object({
  input_tokens: Type.Integer({ description: 'Prompt tokens evaluated for this request (not read from the cache).' }),
  cache_creation_input_tokens: Type.Integer({ description: 'Always 0: caching is automatic and costs nothing extra.' }),
  cache_read_input_tokens: Type.Integer({ description: 'Prompt tokens reused from the prefix cache.' }),
  output_tokens: Type.Integer(),
})

const ContentBlockSchema = Type.Union([
  Type.Object({ type: Type.Literal('thinking'), thinking: Type.String(), signature: Type.String() }),
  Type.Object({ type: Type.Literal('text'), text: Type.String() }),
  Type.Object({
    type: Type.Literal('tool_use'),
    id: Type.String(),
    name: Type.String(),
    input: Type.Record(Type.String(), Type.Unknown()),
  }),
])

export const StopReasonSchema = Type.Union([Type.Literal('end_turn'), Type.Literal('max_tokens'), Type.Literal('stop_sequence'), Type.Literal('tool_use')])

export const MessageSchema = Type.Object({
  id: Type.String({ description: '`msg_…`' }),
  type: Type.Literal('message'),
  role: Type.Literal('assistant'),
  model: Type.String({ description: 'The name the request asked for.' }),
  content: Type.Array(ContentBlockSchema),
  stop_reason: Type.Union([StopReasonSchema, Type.Null()]),
  stop_sequence: Type.Union([Type.String(), Type.Null()]),
  usage: AnthropicUsageSchema,
})

export type Message = Static<typeof MessageSchema>
export type MessageContentBlock = Static<typeof ContentBlockSchema>
export type AnthropicUsage = Static<typeof AnthropicUsageSchema>
export type StopReason = Static<typeof StopReasonSchema>

export const CountTokensResponseSchema = Type.Object({ input_tokens: Type.Integer() })

export const AnthropicErrorBodySchema = Type.Object(
  {
    type: Type.Literal('error'),
    error: Type.Object({ type: Type.String(), message: Type.String() }),
    request_id: Type.String(),
  },
  { $id: 'AnthropicErrorBody', description: "Anthropic's error envelope, used for every error status on /v1/messages." },
)

export type AnthropicErrorBody = Static<typeof AnthropicErrorBodySchema>
