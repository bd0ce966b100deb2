/**
 * A small SentencePiece-style ("llama" tokenizer model) vocabulary built in code, so synthetic
 * models tokenize real text: common words become single pieces, and anything else falls back
 * to single characters or to the 256 byte tokens.
 */

/** llama.cpp's llama_token_type values as stored in `tokenizer.ggml.token_type`. */
export const SpmTokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const
export type SpmTokenType = (typeof SpmTokenType)[keyof typeof SpmTokenType]

export interface SpmVocab {
  tokens: readonly string[]
  scores: readonly number[]
  tokenTypes: readonly SpmTokenType[]
  unknownId: number
  bosId: number
  eosId: number
  imStartId: number
  imEndId: number
}

/** SentencePiece's whitespace marker (U+2581). */
export const SPM_SPACE = '\u2581'
export const IM_START = '<|im_start|>'
export const IM_END = '<|im_end|>'

// Words that get a `▁` (word start) piece, roughly by frequency: earlier words win score ties.
const WORDS = `
the a and to of in was it he she is that for on with as his her they you I at be had said
but not all one so we my me him them this there then from have are were what when up out
day time once upon little big girl boy named Lily Tom Ben Sue Mia mom dad friend friends
play played loved love like liked very happy sad saw see look looked went go going
want wanted can could will would do did does know think help helped make made found find
park ball tree sun sky dog cat bird fish house home toy toys fun also just now
here down about into over after before again because every each other many much way back
only well get got give gave take took come came tell told ask asked answer thank
thanks please sure okay story hello world name good new old first last long great small
red blue green water food man child school work year today night always never run ran jump
walk eat car an or if no yes how who why which where their our your some any more most
than these those been being has user assistant system model text word words test
The Once One He She They It There Hello Hi You What How Yes No This We But And
Then When Sure
`

// Pieces seen inside words or right after a newline or punctuation (no `▁`).
const SUBWORDS = `
ing ed er ly es est ers tion tions ment ness able ful less ous ive ize ic al ity ry
th he in an re on at en nd ti or te it ar st to nt ng se ha as ou io le ve me de hi ri ro ne ea ra ce
's n't 're 've 'll 'm 'd ... Hello The Once
`

// SentencePiece merges the highest-scoring adjacent pair first, so longer pieces score higher;
// the small rank term makes more frequent pieces win ties.
const LENGTH_SCORE = 1
const RANK_SCORE = 1e-4

function splitWords(list: string): string[] {
  return list.split(/\s+/).filter((word) => word.length > 0)
}

function byteToken(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`
}

/**
 * Bigram merging only reaches a piece through smaller pieces that are in the vocabulary, so
 * every prefix of a piece is added too (for `▁` forms the shortest is `▁` plus one character).
 */
function withPrefixes(piece: string): string[] {
  const chars = Array.from(piece)
  const shortest = chars[0] === SPM_SPACE ? 2 : 1
  const pieces: string[] = []
  for (let length = shortest; length <= chars.length; length++) pieces.push(chars.slice(0, length).join(''))
  return pieces
}

function normalPieces(): string[] {
  const pieces = new Set<string>()
  // Space is never a piece: SentencePiece rewrites it to `▁` before tokenizing.
  for (let code = 0x21; code <= 0x7e; code++) pieces.add(String.fromCharCode(code))
  pieces.add(SPM_SPACE)
  for (const char of '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') {
    pieces.add(SPM_SPACE + char)
  }
  const spaced = splitWords(WORDS).map((word) => SPM_SPACE + word)
  for (const word of [...spaced, ...splitWords(SUBWORDS)]) {
    for (const piece of withPrefixes(word)) pieces.add(piece)
  }
  return [...pieces]
}

function buildSpmVocab(): SpmVocab {
  const tokens: string[] = []
  const scores: number[] = []
  const tokenTypes: SpmTokenType[] = []
  const add = (token: string, type: SpmTokenType, score = 0): number => {
    tokens.push(token)
    scores.push(score)
    tokenTypes.push(type)
    return tokens.length - 1
  }

  const unknownId = add('<unk>', SpmTokenType.UNKNOWN)
  const bosId = add('<s>', SpmTokenType.CONTROL)
  const eosId = add('</s>', SpmTokenType.CONTROL)
  for (let byte = 0; byte < 256; byte++) add(byteToken(byte), SpmTokenType.BYTE)
  const imStartId = add(IM_START, SpmTokenType.CONTROL)
  const imEndId = add(IM_END, SpmTokenType.CONTROL)
  normalPieces().forEach((piece, rank) => {
    add(piece, SpmTokenType.NORMAL, Array.from(piece).length * LENGTH_SCORE - rank * RANK_SCORE)
  })

  return { tokens, scores, tokenTypes, unknownId, bosId, eosId, imStartId, imEndId }
}

/** The vocabulary every synthetic model uses (built once; treat as immutable). */
export const SPM_VOCAB: SpmVocab = buildSpmVocab()

/**
 * SPM_VOCAB padded with filler pieces up to `size` tokens, for models whose per-token cost must match a
 * real vocabulary (the output matrix and the sampler scale with it). A filler is `▁`, a private-use
 * character and four base-36 digits: SentencePiece reaches a piece only through pieces one character
 * shorter, and none exist, so no text tokenizes into a filler and prompts tokenize as with SPM_VOCAB.
 * The model may still generate them (as text they are that private-use character and the digits).
 */
export function paddedSpmVocab(size: number): SpmVocab {
  const base = SPM_VOCAB
  const fillers = size - base.tokens.length
  if (fillers < 0) throw new RangeError(`a vocabulary of ${size} tokens is smaller than the built-in one (${base.tokens.length})`)
  if (fillers === 0) return base
  const filler = (n: number) => `${SPM_SPACE}\uF000${n.toString(36).padStart(4, '0')}`
  return {
    ...base,
    tokens: [...base.tokens, ...Array.from({ length: fillers }, (_, n) => filler(n))],
    scores: [...base.scores, ...new Array<number>(fillers).fill(0)],
    tokenTypes: [...base.tokenTypes, ...new Array<SpmTokenType>(fillers).fill(SpmTokenType.NORMAL)],
  }
}
