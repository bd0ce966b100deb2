import { Template } from '@huggingface/jinja'
import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp'
import { InvalidRequestError } from '../errors.js'
import { detectToolCallFormat, type ToolCallFormat } from './tool-call-formats.js'
import { hfTool, inlineTools } from './tool-prompt.js'
import type { ChatMessage, ToolDefinition } from './types.js'

export interface RenderedPrompt {
  tokens: Token[]
}

/**
 * Renders chat messages into prompt tokens with the model's own chat template, exactly as Hugging Face
 * and vLLM do: the GGUF's Jinja template rendered over the OpenAI-shaped messages, then tokenized as one
 * string with special tokens parsed; the turn ends at the model's end-of-generation tokens (llama.cpp
 * counts `<|im_end|>`, `<|eot_id|>` and the like among them), as in llama-server.
 *
 * Models without a template fall back to node-llama-cpp's chat wrapper resolution (which guesses the
 * format from the model's name and architecture, ending at a generic one); its turn terminators (e.g.
 * `</s>` as text) become hidden stops. Resolution is not done for templated models: it tries every known
 * format against the template and took 1–2.5 s per model load.
 */
export class PromptRenderer {
  readonly template: Template | null
  readonly wrapper: ChatWrapper | null
  /** Token ids that end a turn, beyond the model's EOG tokens. */
  readonly stopTokenIds: ReadonlySet<number>
  /** Text that ends a turn (hidden stop strings: never emitted, not reported as a stop_reason). */
  readonly stopTexts: readonly string[]
  /** How this model writes tool calls, read from its template. */
  readonly toolFormat: ToolCallFormat
  /** The template renders `tools` itself; otherwise tools go into the system message (see inlineTools). */
  private readonly templateKnowsTools: boolean

  constructor(
    private readonly model: LlamaModel,
    templateSource: string | null = readChatTemplate(model),
  ) {
    this.template = templateSource ? new Template(templateSource) : null
    this.wrapper = this.template ? null : resolveChatWrapper(model)
    const { stopTokenIds, stopTexts } = this.wrapper ? turnTerminators(this.wrapper, model) : { stopTokenIds: new Set<number>(), stopTexts: [] }
    this.stopTokenIds = stopTokenIds
    this.stopTexts = stopTexts
    this.toolFormat = detectToolCallFormat(this.template ? templateSource : null)
    this.templateKnowsTools = this.template !== null && /\btools\b/.test(templateSource!)
  }

  get format(): string {
    return this.wrapper ? this.wrapper.wrapperName : 'gguf-jinja'
  }

  /** Raw text as llama-server tokenizes a prompt: special-token text parsed, BOS added when the model wants it. */
  tokenizeText(text: string): Token[] {
    return this.withBos(this.model.tokenize(text, true))
  }

  /**
   * Fill-in-the-middle in the model's own infill tokens (prefix-suffix-middle order, as llama.cpp's
   * infill does); models without them cannot do it, which is the client's to know.
   */
  infill(prefix: string, suffix: string): Token[] {
    const { prefix: pre, suffix: suf, middle } = this.model.tokens.infill
    if (pre === null || suf === null || middle === null) {
      throw new InvalidRequestError("This model has no fill-in-the-middle tokens, so 'suffix' cannot be used.", 'suffix')
    }
    return this.withBos([pre, ...this.model.tokenize(prefix), suf, ...this.model.tokenize(suffix), middle])
  }

  /** `tools`: the functions offered to the model (null = none), rendered as the template wants them. */
  render(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | null = null): RenderedPrompt {
    if (this.wrapper) {
      const { contextText } = this.wrapper.generateContextState({ chatHistory: toChatHistory(inlineTools(messages, tools)) })
      return { tokens: contextText.tokenize(this.model.tokenizer) }
    }
    if (!this.templateKnowsTools) return { tokens: this.tokenizeText(this.renderTemplate(this.template!, inlineTools(messages, tools), null)) }
    return { tokens: this.tokenizeText(this.renderTemplate(this.template!, messages, tools)) }
  }

  /** Templates usually print bos_token themselves; add it only where the text lacks it and the model wants it. */
  private withBos(tokens: Token[]): Token[] {
    const bos = this.model.tokens.bos
    if (bos !== null && this.model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos)
    return tokens
  }

  private renderTemplate(template: Template, messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | null): string {
    try {
      return template.render({
        messages: messages.map(hfMessage),
        ...(tools && tools.length > 0 ? { tools: tools.map(hfTool) } : {}),
        add_generation_prompt: true,
        bos_token: this.model.tokens.bosString ?? '',
        eos_token: this.model.tokens.eosString ?? '',
      })
    } catch (error) {
      // Templates reject conversations they cannot format (raise_exception("roles must alternate…")).
      throw new InvalidRequestError(`The model's chat template rejected these messages: ${(error as Error).message}`, 'messages')
    }
  }
}

/**
 * A message as Hugging Face templates read it: assistant calls as `tool_calls[].function` with the
 * arguments as a mapping (a string that was not JSON stays a string), tool results with `tool_call_id`.
 */
function hfMessage(m: ChatMessage): Record<string, unknown> {
  return {
    role: m.role,
    content: m.content,
    ...(m.name ? { name: m.name } : {}),
    ...(m.toolCalls?.length
      ? { tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
      : {}),
    ...(m.toolCallId !== undefined ? { tool_call_id: m.toolCallId } : {}),
  }
}

function readChatTemplate(model: LlamaModel): string | null {
  const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: unknown } }).tokenizer?.chat_template
  return typeof template === 'string' && template.trim() ? template : null
}

function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((m): ChatHistoryItem => {
    switch (m.role) {
      case 'system':
        return { type: 'system', text: m.content }
      case 'assistant':
        return { type: 'model', response: [m.content] }
      default:
        // Tool results have no place in a template-less format; they read as user turns.
        return { type: 'user', text: m.content }
    }
  })
  history.push({ type: 'model', response: [] })
  return history
}

function turnTerminators(wrapper: ChatWrapper, model: LlamaModel): { stopTokenIds: Set<number>; stopTexts: string[] } {
  const stopTokenIds = new Set<number>()
  const stopTexts = new Set<string>()
  const probe: ChatHistoryItem[] = [{ type: 'user', text: 'x' }, { type: 'model', response: [] }]
  for (const trigger of wrapper.generateContextState({ chatHistory: probe }).stopGenerationTriggers) {
    const text = LlamaText(trigger)
    if (text.values.every((v) => typeof v === 'string')) {
      const plain = text.toString()
      if (plain) stopTexts.add(plain)
      continue
    }
    const tokens = text.tokenize(model.tokenizer)
    if (tokens.length === 1) stopTokenIds.add(tokens[0]!)
    else if (tokens.length > 1) stopTexts.add(model.detokenize(tokens, true))
  }
  return { stopTokenIds, stopTexts: [...stopTexts] }
}
