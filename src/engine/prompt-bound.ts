import { ContextLengthExceededError } from '../errors.js'
import type { Vocabulary } from './vocabulary.js'

/**
 * The cheap length check everything must pass before it is tokenized. Tokenizing is synchronous and takes about
 * 1 ms per kB, so megabytes of text would stall every other request for seconds; but a text of n characters is
 * at least n / (longest token's length) tokens, so a text past the context by that bound alone is refused without
 * tokenizing it. The bound never refuses a text that would fit. `reserve`: tokens that must stay free (1 for a
 * prompt: at least one completion token).
 */
export function refuseBeyondContext(vocabulary: Vocabulary, contextSize: number, chars: number, param: string, reserve = 0): void {
  const atLeast = vocabulary.minimumTokens(chars)
  if (atLeast + reserve > contextSize) throw new ContextLengthExceededError(atLeast, contextSize, param, true)
}

/** Characters of chat message contents, as the bound counts them (the template adds its own text later). */
export function messageChars(messages: readonly { content: string }[]): number {
  return messages.reduce((sum, m) => sum + m.content.trim().length, 0)
}
