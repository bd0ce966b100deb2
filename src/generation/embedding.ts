/** The protocol-free contract for embeddings: what is asked and what comes back. */

/** One input: text (tokenized as `/tokenize` does, BOS included) or token ids. */
export type EmbeddingInput = string | readonly number[]

export interface EmbeddingRequest {
  /** Resolved model id (aliases already mapped). */
  model: string
  inputs: EmbeddingInput[]
  /** Keep only the first n components, re-normalised; null = all of them. */
  dimensions: number | null
}

export interface EmbeddingResult {
  /** One unit-length vector per input, in input order. */
  vectors: Float32Array[]
  /** Tokens evaluated over all inputs, BOS/EOS included. */
  promptTokens: number
}
