import type { Token } from 'node-llama-cpp'
import { InvalidRequestError } from '../errors.js'
import type { LoadedModel } from './loaded-model.js'
import type { ChatMessage, ChatTemplateOptions, ToolDefinition } from '../generation/request.js'
import { messageChars, refuseBeyondContext } from './prompt-bound.js'

/**
 * Text ↔ token ids for one loaded model, as the rest of the server sees them: `/tokenize` and
 * `/detokenize` answer with it and the embedder tokenizes its text inputs with it, so the ids a client
 * gets from one endpoint mean the same thing in the others.
 */
export class Tokenizer {
  constructor(private readonly loaded: LoadedModel) {}

  /**
   * Raw text. Special-token text (`<|im_end|>`) becomes the special token, as llama-server parses it.
   * With `addSpecial` the model's BOS is prepended (and EOS appended) when its GGUF asks for them, once:
   * a prompt that already starts with BOS text does not get a second one.
   */
  tokenize(text: string, addSpecial: boolean, param = 'prompt'): number[] {
    this.refuseBeyondContext(text.length, param)
    const { model, renderer } = this.loaded
    if (!addSpecial) return model.tokenize(text, true)
    // BOS exactly as a completions prompt gets it; EOS only here, for models that want it (embedding models).
    const tokens: number[] = renderer.tokenizeText(text)
    const { eos, shouldAppendEosToken } = model.tokens
    if (eos !== null && shouldAppendEosToken && tokens.at(-1) !== eos) tokens.push(eos)
    return tokens
  }

  /** Chat messages (and the tools offered) through the model's chat template: exactly the prompt a generation evaluates. */
  render(messages: readonly ChatMessage[], template: ChatTemplateOptions | null = null, tools: readonly ToolDefinition[] | null = null): number[] {
    // Contents first (before the template runs over them), then the rendered text (tools included).
    this.refuseBeyondContext(messageChars(messages), 'messages')
    return this.loaded.renderer.render(messages, tools, template, (chars) => this.refuseBeyondContext(chars, 'messages')).tokens
  }

  /**
   * A 400 `context_length_exceeded` for text that cannot fit the model's context whatever its tokens are, found
   * without tokenizing it. Anything that tokenizes client text calls this first (see prompt-bound.ts).
   */
  refuseBeyondContext(chars: number, param: string): void {
    refuseBeyondContext(this.loaded.vocabulary, this.loaded.info.contextSize, chars, param)
  }

  /**
   * Decodes as the chat endpoint decodes completions (special tokens left out unless `keepSpecial`).
   * A leading BOS is dropped first when special tokens are skipped: it prints nothing, but llama.cpp
   * would let it take SentencePiece's "no space before the first word" rule, so `tokenize` output would
   * come back with a leading space. llama.cpp's own `remove_special` does the same; node-llama-cpp never
   * sets it.
   */
  detokenize(tokens: readonly number[], keepSpecial: boolean): string {
    this.checkIds(tokens)
    const { model } = this.loaded
    const start = !keepSpecial && tokens[0] === model.tokens.bos ? 1 : 0
    return model.detokenize(tokens.slice(start) as Token[], keepSpecial)
  }

  /** Each token's own text: special tokens by their text, part of a UTF-8 character as U+FFFD. */
  pieces(tokens: readonly number[]): string[] {
    return tokens.map((token) => this.loaded.vocabulary.text(token))
  }

  /**
   * Token ids outside the vocabulary never reach llama.cpp. The codecs check ids against the model's
   * vocabulary size and name the field; this guard only reports the fact.
   */
  checkIds(tokens: readonly number[]): void {
    const token = tokens.find((t) => !this.loaded.vocabulary.has(t))
    if (token !== undefined) throw new InvalidRequestError(`Token id ${token} is not in this model's vocabulary.`, null)
  }
}
