import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp'
import { InvalidRequestError } from '../errors.js'
import { detectToolCallFormat, type ToolCallFormat } from './tool-call-formats.js'
import { inlineTools } from './tool-prompt.js'
import { ChatTemplate } from './chat-template.js'
import { THINK_CLOSE, THINK_OPEN } from './reasoning-splitter.js'
import type { ChatMessage, ChatTemplateOptions, ToolDefinition } from '../generation/request.js'

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

interface CompiledTemplate {
  template: ChatTemplate
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
  readonly template: ChatTemplate | null
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
    this.template = templateSource ? new ChatTemplate(templateSource) : null
    this.wrapper = this.template ? null : resolveChatWrapper(model)
    const { stopTokenIds, stopTexts } = this.wrapper ? turnTerminators(this.wrapper, model) : { stopTokenIds: new Set<number>(), stopTexts: [] }
    this.stopTokenIds = stopTokenIds
    this.stopTexts = stopTexts
    this.compiled = this.template ? describe(this.template) : null
    // A template that does not know tools gets them inlined in the Hermes format (tool-prompt.ts).
    this.toolFormat = detectToolCallFormat(this.compiled?.knowsTools ? this.compiled.template.source : null)
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
    const text = compiled.template.render({
      messages: shown,
      tools: compiled.knowsTools ? tools : null,
      options,
      bosToken: this.model.tokens.bosString ?? '',
      eosToken: this.model.tokens.eosString ?? '',
    })
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
      compiled = describe(new ChatTemplate(source))
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
}

/** What the renderer needs to know about a template, read once from its text. */
function describe(template: ChatTemplate): CompiledTemplate {
  return { template, knowsTools: /\btools\b/.test(template.source), thinks: template.source.includes(THINK_OPEN) }
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
