import { InvalidRequestError } from '../../errors.js'
import type { ChatTemplateOptions, GenerationInput, GenerationRequest, GrammarSpec, ToolOptions } from '../../generation/request.js'
import type { CountTokensRequest, MessagesRequest } from '../schemas/messages.js'
import { decodeTools } from './chat-tools.js'
import { decodeGenerationParams, type ModelLimits } from './generation-params.js'
import { decodeTurns } from './messages-content.js'
import { decodeMessagesOutput, type MessagesOutput } from './messages-output.js'

type Json = Record<string, unknown>

/** What shapes the prompt, so `count_tokens` renders exactly what `/v1/messages` evaluates. */
export interface MessagesPrompt {
  input: Extract<GenerationInput, { kind: 'chat' }>
  tools: ToolOptions | null
  /** Structured output (`output_config.format`); count_tokens has no use for it but refuses what /v1/messages refuses. */
  grammar: GrammarSpec | null
}

/**
 * Anthropic Messages request → protocol-free GenerationRequest. `model` is the resolved model id.
 * Everything generation-related goes through chat's decoders (sampling defaults, stops, tools and their
 * schema grammars), so the two APIs cannot disagree about what a field means.
 */
export function decodeMessagesRequest(body: MessagesRequest, model: string, limits: ModelLimits): GenerationRequest {
  const { input, tools, grammar } = decodeMessagesPrompt(body)
  const { max_tokens, temperature, top_p, top_k, stop_sequences } = body
  const params = decodeGenerationParams({ max_tokens, temperature, top_p, top_k, stop: stop_sequences ?? null }, limits)
  const thinking = body.thinking
  let thinkingBudget: number | null = null
  if (thinking?.type === 'enabled') {
    if (thinking.budget_tokens == null) throw new InvalidRequestError("thinking.budget_tokens is required with thinking type 'enabled'.", 'thinking.budget_tokens')
    if (thinking.budget_tokens >= max_tokens) {
      throw new InvalidRequestError(
        `thinking.budget_tokens (${thinking.budget_tokens}) must be less than max_tokens (${max_tokens}), which counts thinking too.`,
        'thinking.budget_tokens',
      )
    }
    thinkingBudget = thinking.budget_tokens
  }
  return {
    ...params,
    model,
    input,
    grammar,
    ...(tools ? { tools } : {}),
    ...(thinking?.display === 'omitted' ? { reportReasoning: false } : {}),
    thinkingBudget,
    logprobs: null,
    promptLogprobs: null,
    echo: false,
  }
}

/** The prompt half of a request (system, turns, tools, thinking switch): all that count_tokens needs. */
export function decodeMessagesPrompt(body: CountTokensRequest): MessagesPrompt {
  if (body.mcp_servers?.length) throw new InvalidRequestError('mcp_servers are not supported: this server connects to no MCP servers.', 'mcp_servers')
  if (body.container != null) throw new InvalidRequestError('container is not supported: this server runs no code containers.', 'container')
  const messages = decodeTurns(body.system, body.messages)
  const output = decodeMessagesOutput(body)
  const template = decodeTemplateOptions(body, output)
  const tools = decodeAnthropicTools(body)
  if (output.grammar) refuseBesideFormat(output.formatParam, tools, template)
  return { input: { kind: 'chat', messages, ...(template ? { template } : {}) }, tools, grammar: output.grammar }
}

/**
 * What a structured output cannot go with. Tool use: one grammar per request enforces either the JSON or the
 * calls (chat refuses response_format beside tools alike). A prefill: the grammar would hold only the
 * continuation, so the text block would not be the JSON; Anthropic refuses prefill with structured outputs too.
 */
function refuseBesideFormat(param: string, tools: ToolOptions | null, template: ChatTemplateOptions | null): void {
  if (tools && tools.choice.kind !== 'none') {
    throw new InvalidRequestError(`${param} cannot be combined with tool use (one grammar per request); drop it or send tool_choice {"type": "none"}.`, param)
  }
  if (template?.continueFinalMessage) {
    throw new InvalidRequestError(`${param} cannot be combined with a prefilled assistant turn: the JSON is the whole answer. Drop the last assistant turn.`, param)
  }
}

/**
 * The template controls a Messages request implies: `thinking` as the `enable_thinking` switch Qwen3-style
 * templates read, `output_config.effort` as `reasoning_effort`, and a last assistant turn continued
 * (Anthropic's prefill) rather than answered.
 */
function decodeTemplateOptions(body: CountTokensRequest, { effort }: MessagesOutput): ChatTemplateOptions | null {
  const type = body.thinking?.type
  const last = body.messages.at(-1)!
  const prefill = last.role === 'assistant'
  if (prefill && typeof last.content !== 'string' && last.content.some((b) => b.type === 'tool_use')) {
    const param = `messages[${body.messages.length - 1}]`
    throw new InvalidRequestError(`The last turn calls tools; send their tool_result blocks in a user turn (${param}).`, param)
  }
  if (type == null && effort == null && !prefill) return null
  return {
    source: null,
    variables: type == null ? {} : { enable_thinking: type !== 'disabled' },
    variablesParam: 'thinking',
    reasoningEffort: effort,
    addGenerationPrompt: !prefill,
    continueFinalMessage: prefill,
    documents: null,
  }
}

/**
 * Anthropic tools and tool_choice → chat's decoder, which checks names and turns each `input_schema` into
 * the grammar that enforces it, under chat's rules for a function of the same `strict`. Absent `strict` is
 * `false`, Anthropic's default (best effort; only `strict: true` promises schema-valid input), and what
 * Claude Code sends. Server tools (`web_search_…`, `bash_…`, `text_editor_…`) would run on Anthropic's side;
 * nothing runs them here, so they are refused.
 */
function decodeAnthropicTools(body: CountTokensRequest): ToolOptions | null {
  const tools = (body.tools ?? []).map((tool, i) => {
    const param = `tools[${i}]`
    if (typeof tool !== 'object' || tool === null || Array.isArray(tool)) throw new InvalidRequestError('A tool must be an object.', param)
    const { type, name, description, input_schema, strict } = tool as Json
    if (type != null && type !== 'custom') {
      throw new InvalidRequestError(
        `Server tool '${String(type)}'${typeof name === 'string' ? ` ('${name}')` : ''} is not supported: this server runs no tools itself. ` +
          'Define it as a custom tool (name, description, input_schema) and run it in the client.',
        `${param}.type`,
      )
    }
    if (typeof input_schema !== 'object' || input_schema === null || Array.isArray(input_schema)) {
      throw new InvalidRequestError(`${param}.input_schema is required: a JSON Schema object for the tool's input.`, `${param}.input_schema`)
    }
    return { type: 'function', function: { name, description, parameters: input_schema, strict: strict ?? false } }
  })
  const choice = body.tool_choice
  if (choice && (choice.type === 'any' || choice.type === 'tool') && tools.length === 0) {
    throw new InvalidRequestError(`tool_choice '${choice.type}' needs tools to call; send 'tools'.`, 'tool_choice')
  }
  if (choice?.type === 'tool' && typeof choice.name !== 'string') throw new InvalidRequestError("tool_choice 'tool' needs a 'name'.", 'tool_choice.name')
  const wireChoice =
    choice == null ? null
    : choice.type === 'any' ? 'required'
    : choice.type === 'tool' ? { type: 'function', function: { name: choice.name } }
    : choice.type
  return decodeTools({ tools, tool_choice: wireChoice, parallel_tool_calls: choice?.disable_parallel_tool_use === true ? false : null })
}
