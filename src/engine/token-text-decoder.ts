/**
 * Turns generated tokens into text one token at a time. A character whose UTF-8 bytes span several
 * tokens (byte-fallback vocabularies split emoji and CJK this way) decodes to U+FFFD until its last byte
 * arrives, so trailing U+FFFD is held back instead of streamed.
 */
export type Detokenize = (tokens: readonly number[], contextTokens: readonly number[]) => string

/** A UTF-8 character is at most 4 bytes, so at most 4 byte tokens can be pending for one character. */
const MAX_PENDING_TOKENS = 4
/** Tokens of left context passed to the detokenizer, so SentencePiece spacing comes out as in one pass. */
const CONTEXT_TOKENS = 4

export class TokenTextDecoder {
  private pending: number[] = []
  private context: number[]

  constructor(
    private readonly detokenize: Detokenize,
    contextTokens: readonly number[] = [],
  ) {
    this.context = contextTokens.slice(-CONTEXT_TOKENS)
  }

  /** Text that became final with this token ('' while a character is incomplete). */
  push(token: number): string {
    this.pending.push(token)
    const text = this.detokenize(this.pending, this.context)
    if (text.endsWith('\uFFFD') && this.pending.length < MAX_PENDING_TOKENS) return ''
    this.context = [...this.context, ...this.pending].slice(-CONTEXT_TOKENS)
    this.pending = []
    return text
  }

  /** At the end, whatever is pending is emitted as it decodes (an unfinished character stays U+FFFD). */
  flush(): string {
    if (this.pending.length === 0) return ''
    const text = this.detokenize(this.pending, this.context)
    this.pending = []
    return text
  }
}
