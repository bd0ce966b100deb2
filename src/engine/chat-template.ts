import { InvalidRequestError } from '../errors.js'
import { compileJinja, type JinjaTemplate } from './jinja-compat.js'
import { hfTool } from './tool-prompt.js'
import type { ChatMessage, ChatTemplateOptions, ToolDefinition } from '../generation/request.js'

/** Marks where the continued message's content ends in the rendered text (private-use characters). */
const CONTINUE_MARK = '\uE000gguf-serve-continue\uE001'

export interface ChatTemplateInput {
  messages: readonly ChatMessage[]
  /** The functions offered; null or empty = none, and the template sees no `tools` variable at all. */
  tools: readonly ToolDefinition[] | null
  options: ChatTemplateOptions | null
  bosToken: string
  eosToken: string
}

/**
 * A GGUF or request chat template, rendered as Hugging Face transformers' `apply_chat_template` renders
 * it (the reference vLLM and llama-server follow): `messages`, `tools` and `documents`, `add_generation_prompt`,
 * the special tokens; the request's own variables cannot replace those. One deliberate difference:
 * without tools (or documents) the variable is left undefined, as llama-server does, where transformers
 * passes None; tool-only template variants (Hermes 2 Pro's `tool_use`) then still render plain chats. Pure: text in,
 * text out, so the golden test (test/chat-template-fidelity.test.ts) can check it against Python Jinja2.
 */
export class ChatTemplate {
  private readonly template: JinjaTemplate

  /** Throws when the source does not parse. */
  constructor(readonly source: string) {
    this.template = compileJinja(source)
  }

  /**
   * The prompt text; with `continueFinalMessage` cut right after the last message's content. Throws
   * InvalidRequestError when the template rejects the conversation (`raise_exception`, or an error).
   */
  render({ messages, tools, options, bosToken, eosToken }: ChatTemplateInput): string {
    const continuing = options?.continueFinalMessage === true
    let shown = messages.map(hfMessage)
    if (continuing) {
      const last = messages.at(-1)!
      if (last.role !== 'assistant') {
        throw new InvalidRequestError("'continue_final_message' needs the last message to be an assistant message to continue.", 'continue_final_message')
      }
      // A mark after the content finds where it ends in the rendered text, whatever the template wraps around it.
      shown = [...shown.slice(0, -1), { ...shown.at(-1)!, content: last.content + CONTINUE_MARK }]
    }
    let text: string
    try {
      text = this.template.render({
        ...templateVariables(options),
        messages: shown,
        ...(tools && tools.length > 0 ? { tools: tools.map(hfTool) } : {}),
        ...(options?.documents ? { documents: options.documents } : {}),
        add_generation_prompt: continuing ? false : (options?.addGenerationPrompt ?? true),
        bos_token: bosToken,
        eos_token: eosToken,
      })
    } catch (error) {
      // Templates reject conversations they cannot format (raise_exception("roles must alternate…")).
      const whose = options?.source != null ? "The request's chat_template" : "The model's chat template"
      throw new InvalidRequestError(`${whose} rejected these messages: ${(error as Error).message}`, options?.source != null ? 'chat_template' : 'messages')
    }
    if (!continuing) return text
    const end = text.lastIndexOf(CONTINUE_MARK)
    if (end < 0) {
      throw new InvalidRequestError("The chat template does not print the last assistant message's content, so it cannot be continued.", 'continue_final_message')
    }
    return text.slice(0, end)
  }
}

/**
 * Variables beyond the messages: `reasoning_effort` (and, for `none`, `enable_thinking: false`, the
 * switch Qwen3-style templates read), then the client's own, which win.
 */
function templateVariables(options: ChatTemplateOptions | null): Record<string, unknown> {
  if (!options) return {}
  const effort = options.reasoningEffort
  return {
    ...(effort !== null ? { reasoning_effort: effort } : {}),
    ...(effort === 'none' ? { enable_thinking: false } : {}),
    ...options.variables,
  }
}

/**
 * A message as Hugging Face templates read it: assistant calls as `tool_calls[].function` with the
 * arguments as a mapping (a string that was not JSON stays a string), tool results with `tool_call_id`.
 */
export function hfMessage(m: ChatMessage): Record<string, unknown> {
  return {
    role: m.role,
    content: m.content,
    ...(m.name ? { name: m.name } : {}),
    ...(m.toolCalls?.length
      ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
      : {}),
    ...(m.toolCallId !== undefined ? { tool_call_id: m.toolCallId } : {}),
    ...(m.reasoning !== undefined ? { reasoning_content: m.reasoning } : {}),
  }
}
