import type { PromptTokenLogprob } from '../generation/events.js'

/**
 * The prompt as an echo shows it (legacy completions' `echo`), OpenAI's way: the text exactly as the
 * client sent it, and, with logprobs, per-token texts that join to that text (so `text_offset` indexes
 * it) with no logprob for the first token (nothing comes before it).
 *
 * `pieces`: the prompt tokens' texts and scores, BOS left out. `sent`: the string the client sent, or
 * null for a token-id prompt, which is echoed as its detokenized text. `spacePrefix`: the tokenizer adds
 * a space before the text (SentencePiece), which decoding drops again, as Hugging Face's `decode` does.
 * A tokenization that does not spell the sent text back (e.g. normalized characters) keeps the sent
 * text and the tokens as they are.
 */
export function echoPrompt(pieces: readonly PromptTokenLogprob[], sent: string | null, spacePrefix: boolean): { text: string; logprobs: PromptTokenLogprob[] } {
  const logprobs = pieces.map((p) => ({ ...p }))
  if (spacePrefix && logprobs[0]?.token.startsWith(' ') && !(sent?.startsWith(' ') ?? false)) trimStart(logprobs, 1)
  const joined = logprobs.map((p) => p.token).join('')
  if (sent !== null && joined !== sent && joined.endsWith(sent) && !joined.slice(0, joined.length - sent.length).trim()) {
    trimStart(logprobs, joined.length - sent.length)
  }
  if (logprobs[0]) logprobs[0] = { ...logprobs[0], logprob: null, top: null }
  return { text: sent ?? logprobs.map((p) => p.token).join(''), logprobs }
}

/** Drops `chars` leading characters (blanks) from the first tokens' texts and bytes. */
function trimStart(logprobs: PromptTokenLogprob[], chars: number): void {
  for (let i = 0; chars > 0 && i < logprobs.length; i++) {
    const entry = logprobs[i]!
    const cut = Math.min(chars, entry.token.length)
    const token = entry.token.slice(cut)
    logprobs[i] = { ...entry, token, bytes: entry.bytes.slice(Buffer.byteLength(entry.token.slice(0, cut))) }
    chars -= cut
  }
}
