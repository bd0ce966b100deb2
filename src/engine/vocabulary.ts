import type { LlamaModel, Token } from 'node-llama-cpp'

/**
 * What the server needs to know about a model's vocabulary beyond tokenizing: its size (to validate
 * token ids in requests), its end-of-generation tokens (to ban them for min_tokens), and the exact
 * bytes of each token (logprobs report `bytes`; a token may hold part of a UTF-8 character, which its
 * text cannot show). Bytes come from the GGUF vocabulary pieces, decoded per tokenizer family.
 */
export class Vocabulary {
  readonly size: number
  readonly eogTokens: readonly number[]
  /**
   * The most characters one token can stand for (its longest piece); a text of n characters is at least
   * n / longestTokenChars tokens. Infinity when the GGUF lists no pieces.
   */
  readonly longestTokenChars: number
  /** SentencePiece adds a space before the text it tokenizes (unless the GGUF turns that off); decoding drops it. */
  readonly spacePrefix: boolean
  private readonly pieces: readonly string[] | null
  private readonly family: string
  private readonly byteDecoder = gpt2ByteDecoder()
  private readonly bytesCache = new Map<number, number[]>()

  constructor(private readonly model: LlamaModel) {
    const ggml = (model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: unknown; model?: unknown; add_space_prefix?: unknown } } }).tokenizer?.ggml
    this.pieces = Array.isArray(ggml?.tokens) ? (ggml.tokens as string[]) : null
    this.family = typeof ggml?.model === 'string' ? ggml.model : ''
    this.spacePrefix = this.family === 'llama' && ggml?.add_space_prefix !== false
    this.size = this.pieces?.length ?? [...model.iterateAllTokens()].length
    this.longestTokenChars = this.pieces ? this.pieces.reduce((longest, piece) => Math.max(longest, piece.length), 1) : Infinity
    const eog: number[] = []
    for (let token = 0; token < this.size; token++) if (model.isEogToken(token as Token)) eog.push(token)
    this.eogTokens = eog
  }

  /** Fewest tokens a text of this many characters can be. */
  minimumTokens(chars: number): number {
    return Math.ceil(chars / this.longestTokenChars)
  }

  has(token: number): boolean {
    return Number.isInteger(token) && token >= 0 && token < this.size
  }

  /** The token's exact bytes as it would be printed (special tokens by their text). */
  bytes(token: number): number[] {
    let bytes = this.bytesCache.get(token)
    if (!bytes) {
      bytes = this.decodePiece(token)
      this.bytesCache.set(token, bytes)
    }
    return bytes
  }

  /** The token as text; an incomplete UTF-8 character shows as U+FFFD (its bytes are exact). */
  text(token: number): string {
    return Buffer.from(this.bytes(token)).toString('utf8')
  }

  private decodePiece(token: number): number[] {
    const piece = this.pieces?.[token]
    if (piece === undefined || this.model.isSpecialToken(token as Token)) {
      return [...Buffer.from(this.model.detokenize([token as Token], true))]
    }
    if (this.family === 'llama') {
      // SentencePiece: byte-fallback pieces are <0xAB>; U+2581 stands for a space.
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece)
      return byte ? [parseInt(byte[1]!, 16)] : [...Buffer.from(piece.replaceAll('\u2581', ' '))]
    }
    if (this.family === 'gpt2') {
      // Byte-level BPE: every byte is spelled as one printable code point.
      const bytes = [...piece].map((c) => this.byteDecoder.get(c))
      if (bytes.every((b) => b !== undefined)) return bytes as number[]
    }
    return [...Buffer.from(this.model.detokenize([token as Token], true))]
  }
}

/** GPT-2's reversible byte ↔ printable code point table. */
function gpt2ByteDecoder(): Map<string, number> {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
  const table = new Map<string, number>()
  let extra = 0
  for (let b = 0; b < 256; b++) table.set(String.fromCodePoint(printable(b) ? b : 256 + extra++), b)
  return table
}
