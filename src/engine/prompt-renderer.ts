import { Template } from '@huggingface/jinja'
import { LlamaText, resolveChatWrapper, type ChatHistoryItem, type ChatWrapper, type LlamaModel, type Token } from 'node-llama-cpp'
import { InvalidRequestError } from '../errors.js'
import type { ChatMessage } from './types.js'

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

  constructor(
    private readonly model: LlamaModel,
    templateSource: string | null = readChatTemplate(model),
  ) {
    this.template = templateSource ? new Template(templateSource) : null
    this.wrapper = this.template ? null : resolveChatWrapper(model)
    const { stopTokenIds, stopTexts } = this.wrapper ? turnTerminators(this.wrapper, model) : { stopTokenIds: new Set<number>(), stopTexts: [] }
    this.stopTokenIds = stopTokenIds
    this.stopTexts = stopTexts
  }

  get format(): string {
    return this.wrapper ? this.wrapper.wrapperName : 'gguf-jinja'
  }

  render(messages: readonly ChatMessage[]): RenderedPrompt {
    if (this.wrapper) {
      const { contextText } = this.wrapper.generateContextState({ chatHistory: toChatHistory(messages) })
      return { tokens: contextText.tokenize(this.model.tokenizer) }
    }
    const text = this.renderTemplate(this.template!, messages)
    const tokens = this.model.tokenize(text, true)
    // Templates usually print bos_token themselves; add it only where they do not and the model wants it.
    const bos = this.model.tokens.bos
    if (bos !== null && this.model.tokens.shouldPrependBosToken && tokens[0] !== bos) tokens.unshift(bos)
    return { tokens }
  }

  private renderTemplate(template: Template, messages: readonly ChatMessage[]): string {
    try {
      return template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content, ...(m.name ? { name: m.name } : {}) })),
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
