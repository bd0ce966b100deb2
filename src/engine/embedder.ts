import type { LlamaEmbeddingContext, Token } from 'node-llama-cpp'
import { ContextLengthExceededError, EngineError, InvalidRequestError, UnavailableError } from '../errors.js'
import type { EmbeddingInput, EmbeddingResult } from '../generation/embedding.js'
import type { LoadedModel } from './loaded-model.js'
import { Tokenizer } from './tokenizer.js'

export interface EmbeddingOptions {
  /** Keep only the first n components, re-normalised; null = all of them. */
  dimensions: number | null
  /** Once it fires, no further input is evaluated. */
  signal?: AbortSignal
}

const embedders = new WeakMap<LoadedModel, Embedder>()

/**
 * Embeddings for one loaded model, from a node-llama-cpp embedding context of its own (created on first
 * use, so servers that never embed pay nothing). What the vectors are, checked against llama.cpp's
 * per-position states on a synthetic llama with and without a pooling key:
 *
 * - Pooling is llama.cpp's, as the GGUF declares it (`<arch>.pooling_type`: mean, cls or last). A GGUF
 *   without the key (chat and base LLMs: llama, qwen2, …) is not pooled at all and node-llama-cpp returns
 *   the hidden state of the last token, after the final norm: last-token pooling, not mean.
 * - llama.cpp pools per batch: with mean pooling and an input longer than the batch, the vector averaged
 *   only the last batch's tokens. The batch therefore holds a whole context.
 * - node-llama-cpp returns the vector unnormalised; it is L2-normalised here. `dimensions` below the size
 *   keeps the first components and normalises those (Matryoshka-style, as OpenAI's text-embedding-3 does);
 *   that is only meaningful for models trained for it, which a GGUF does not tell.
 * - BOS (and EOS where the tokenizer appends one) are added when missing, to token-id inputs too, so ids
 *   from `/tokenize` with or without `add_special_tokens` embed like the text they came from.
 *
 * node-llama-cpp evaluates one input per call (its context reads sequence 0 only, so inputs cannot share
 * a batch); each call is awaited on llama.cpp's worker thread, keeping the event loop free. The scheduler's
 * embedding lane gives the context to one request at a time, so one request's inputs run back to back.
 */
export class Embedder {
  static for(loaded: LoadedModel): Embedder {
    let embedder = embedders.get(loaded)
    if (!embedder) {
      const created = new Embedder(loaded)
      embedders.set(loaded, created)
      // The embedding context is the model's to free: an unloaded model must not leave it behind.
      loaded.onDispose(() => created.dispose())
      embedder = created
    }
    return embedder
  }

  private async dispose(): Promise<void> {
    const context = this.context
    this.context = null
    await (await context?.catch(() => null))?.dispose()
  }

  private context: Promise<LlamaEmbeddingContext> | null = null
  private readonly tokenizer: Tokenizer

  private constructor(private readonly loaded: LoadedModel) {
    this.tokenizer = new Tokenizer(loaded)
  }

  /** Components in a full vector. */
  get size(): number {
    return this.loaded.model.embeddingVectorSize
  }

  /** Validates every input before any is evaluated, so a bad one fails the request at once. */
  async embed(inputs: readonly EmbeddingInput[], { dimensions, signal }: EmbeddingOptions): Promise<EmbeddingResult> {
    const size = this.size
    // The codec checked dimensions against the size (ModelDefaults.embeddingSize); this only guards.
    if (dimensions !== null && dimensions > size) throw new InvalidRequestError(`${dimensions} dimensions exceed the model's ${size}.`, null)
    const where = (i: number) => (inputs.length > 1 ? `input[${i}]` : 'input')
    const { contextSize } = this.loaded.info
    const tokenized = inputs.map((input, i) => {
      if (typeof input === 'string') {
        // tokenize refuses, before tokenizing, a text that cannot fit whatever its tokens are.
        return this.tokenizer.tokenize(input, true, where(i))
      }
      this.tokenizer.checkIds(input)
      return [...input]
    })
    const context = await this.openContext()
    let promptTokens = 0
    for (const [i, tokens] of tokenized.entries()) {
      const length = context.calculateInputLength(tokens as Token[])
      if (length > contextSize) throw new ContextLengthExceededError(length, contextSize, where(i))
      promptTokens += length
    }
    const vectors: Float32Array[] = []
    for (const tokens of tokenized) {
      if (signal?.aborted) throw new UnavailableError('The client closed the request before it was served.', 'client_closed')
      const { vector } = await context.getEmbeddingFor(tokens as Token[])
      vectors.push(unitPrefix(vector, dimensions ?? size))
    }
    return { vectors, promptTokens }
  }

  private openContext(): Promise<LlamaEmbeddingContext> {
    const { info, model } = this.loaded
    this.context ??= model
      // One token more than the generation context: node-llama-cpp refuses inputs that fill its context
      // exactly, and an input as long as the advertised context length should embed.
      .createEmbeddingContext({ contextSize: info.contextSize + 1, batchSize: info.contextSize + 1, threads: info.threads })
      .catch((error: unknown) => {
        this.context = null
        throw new EngineError(`Cannot create the embedding context for ${info.id}; the server log has the details.`, error)
      })
    return this.context
  }
}

/** The first `dimensions` components scaled to unit L2 norm (a zero vector stays zero). */
function unitPrefix(vector: readonly number[], dimensions: number): Float32Array {
  let sumOfSquares = 0
  for (let i = 0; i < dimensions; i++) sumOfSquares += vector[i]! ** 2
  const scale = sumOfSquares > 0 ? 1 / Math.sqrt(sumOfSquares) : 0
  return Float32Array.from({ length: dimensions }, (_, i) => vector[i]! * scale)
}
