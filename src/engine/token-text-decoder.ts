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
    let text = this.detokenize(this.pending, this.context)
    let released = ''
    // Leading tokens that decode the same alone (an invalid byte, a finished character) are final even
    // while a later character is incomplete; releasing them keeps them from using up its token budget.
    // The rest decodes after the head as context, which cuts the head's text off the front: a rest that
    // comes out empty was swallowed by the head's unfinished character, so the head is not final yet.
    while (text.endsWith('\uFFFD') && this.pending.length > 1) {
      const head = this.detokenize(this.pending.slice(0, 1), this.context)
      const rest = this.detokenize(this.pending.slice(1), [...this.context, this.pending[0]!].slice(-CONTEXT_TOKENS))
      if (rest === '' || head + rest !== text) break
      released += head
      this.advance(1)
      text = rest
    }
    if (text.endsWith('\uFFFD') && this.pending.length < MAX_PENDING_TOKENS) return released
    this.advance(this.pending.length)
    return released + text
  }

  /** At the end, whatever is pending is emitted as it decodes (an unfinished character stays U+FFFD). */
  flush(): string {
    if (this.pending.length === 0) return ''
    const text = this.detokenize(this.pending, this.context)
    this.pending = []
    return text
  }

  private advance(count: number): void {
    this.context = [...this.context, ...this.pending.slice(0, count)].slice(-CONTEXT_TOKENS)
    this.pending = this.pending.slice(count)
  }
}
