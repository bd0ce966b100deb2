import { Template } from '@huggingface/jinja'
import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp'
import { InvalidRequestError } from '../errors.js'
import { detectToolCallFormat, type ToolCallFormat } from './tool-call-formats.js'
import { hfTool, inlineTools } from './tool-prompt.js'
import { THINK_CLOSE, THINK_OPEN } from './reasoning-splitter.js'
import type { ChatMessage, ChatTemplateOptions, ToolDefinition } from './types.js'

export interface RenderedPrompt {
  tokens: Token[]
  /**
   * The template is a thinking one (it mentions `<think>`): the output is split into reasoning and
   * content. `startsInside`: the prompt itself opened the segment, so the output begins inside it.
   * null = a plain model.
   */
  reasoning: { startsInside: boolean } | null
}

/** Per-request templates compiled, by text: clients repeat the same one. */
const MAX_CACHED_TEMPLATES = 8

/** Marks where the continued message's content ends in the rendered text (private-use characters). */
const CONTINUE_MARK = '\uE000gguf-serve-continue\uE001'

interface CompiledTemplate {
  template: Template
  knowsTools: boolean
  thinks: boolean
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
  private readonly compiled: CompiledTemplate | null
  private readonly requestTemplates = new Map<string, CompiledTemplate>()

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
    this.compiled = this.template ? describe(this.template, templateSource!) : null
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

  /**
   * `tools`: the functions offered to the model (null = none), rendered as the template wants them.
   * `options`: the request's template controls (null = the model's template with the defaults).
   * `checkLength`: called with the rendered text's length before it is tokenized (synchronous, ~1 ms per kB),
   * to refuse a prompt that cannot fit whatever its tokens are (tool descriptions and schemas included).
   */
  render(
    messages: readonly ChatMessage[],
    tools: readonly ToolDefinition[] | null = null,
    options: ChatTemplateOptions | null = null,
    checkLength: (chars: number) => void = () => {},
  ): RenderedPrompt {
    const compiled = options?.source != null ? this.requestTemplate(options.source) : this.compiled
    if (!compiled) {
      refuseWrapperOptions(options)
      const { contextText } = this.wrapper!.generateContextState({ chatHistory: toChatHistory(inlineTools(messages, tools)) })
      checkLength(contextText.toString().length)
      return { tokens: contextText.tokenize(this.model.tokenizer), reasoning: null }
    }
    const shown = compiled.knowsTools ? messages : inlineTools(messages, tools)
    const text = this.renderTemplate(compiled.template, shown, compiled.knowsTools ? tools : null, options)
    checkLength(text.length)
    const continued = options?.continueFinalMessage ? (messages.at(-1)?.content ?? '') : null
    return { tokens: this.tokenizeText(text), reasoning: compiled.thinks ? { startsInside: opensThinking(text, continued) } : null }
  }

  /** A request's own template, compiled once per text (a few kept); one that does not parse is a 400. */
  private requestTemplate(source: string): CompiledTemplate {
    let compiled = this.requestTemplates.get(source)
    if (compiled) {
      // Most recently used last, so the oldest is the one dropped.
      this.requestTemplates.delete(source)
      this.requestTemplates.set(source, compiled)
      return compiled
    }
    if (!source.trim()) throw new InvalidRequestError("'chat_template' is empty; send a Jinja template or leave it out.", 'chat_template')
    try {
      compiled = describe(new Template(source), source)
    } catch (error) {
      throw new InvalidRequestError(`'chat_template' does not parse as a Jinja template: ${(error as Error).message}`, 'chat_template')
    }
    if (this.requestTemplates.size >= MAX_CACHED_TEMPLATES) this.requestTemplates.delete(this.requestTemplates.keys().next().value!)
    this.requestTemplates.set(source, compiled)
    return compiled
  }

  /** Templates usually print bos_token themselves; add it only where the text lacks it and the model wants it. */
  private withBos(tokens: Token[]): Token[] {
    const bos = this.model.tokens.bos
    if (bos !== null && this.model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos)
    return tokens
  }

  private renderTemplate(
    template: Template,
    messages: readonly ChatMessage[],
    tools: readonly ToolDefinition[] | null,
    options: ChatTemplateOptions | null,
  ): string {
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
      text = template.render({
        ...templateVariables(options),
        messages: shown,
        ...(tools && tools.length > 0 ? { tools: tools.map(hfTool) } : {}),
        ...(options?.documents ? { documents: options.documents } : {}),
        add_generation_prompt: continuing ? false : (options?.addGenerationPrompt ?? true),
        bos_token: this.model.tokens.bosString ?? '',
        eos_token: this.model.tokens.eosString ?? '',
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

/** What the renderer needs to know about a template, read once from its text. */
function describe(template: Template, source: string): CompiledTemplate {
  return { template, knowsTools: /\btools\b/.test(source), thinks: source.includes(THINK_OPEN) }
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
 * The output starts inside a thinking segment: the generation prompt ends with `<think>` (templates that
 * always think open it for the model), or the continued assistant message has an unclosed one.
 */
function opensThinking(text: string, continued: string | null): boolean {
  if (text.trimEnd().endsWith(THINK_OPEN)) return true
  if (continued === null) return false
  const open = continued.lastIndexOf(THINK_OPEN)
  return open >= 0 && !continued.includes(THINK_CLOSE, open)
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
    ...(m.reasoning !== undefined ? { reasoning_content: m.reasoning } : {}),
  }
}

/**
 * Models without a Jinja template are rendered by node-llama-cpp's chat wrappers, which have no template
 * variables, documents or open-ended prompts: those options are refused unless at their no-op value
 * (a `chat_template` in the request renders through Jinja instead). `reasoning_effort` is a hint that
 * models without a thinking template ignore.
 */
function refuseWrapperOptions(options: ChatTemplateOptions | null): void {
  if (!options) return
  const why = "This model has no Jinja chat template (its prompt format is node-llama-cpp's), so"
  if (Object.keys(options.variables).length > 0) {
    throw new InvalidRequestError(`${why} template variables cannot apply; send a 'chat_template' too, or drop them.`, options.variablesParam)
  }
  if (options.documents?.length) throw new InvalidRequestError(`${why} 'documents' cannot be rendered; send a 'chat_template' too.`, 'documents')
  if (options.continueFinalMessage) throw new InvalidRequestError(`${why} 'continue_final_message' is not supported; send a 'chat_template' too.`, 'continue_final_message')
  if (!options.addGenerationPrompt) throw new InvalidRequestError(`${why} 'add_generation_prompt: false' is not supported; send a 'chat_template' too.`, 'add_generation_prompt')
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
