import { TokenBias, type LlamaModel, type Token } from 'node-llama-cpp'
import type { SamplingOptions } from '../generation/request.js'

/** OpenAI's ±100 mean "ban" and "exclusive selection"; llama.cpp adds biases to raw logits. */
const FORCE_LOGIT = 1e4

export interface BiasInputs {
  /** How often each token occurred in this completion so far. */
  counts: ReadonlyMap<number, number>
  /** True while end-of-generation and stop tokens must not be sampled (min_tokens). */
  suppressStops: boolean
  /** A token the next sample must be (a thinking budget closing its segment); null = none. */
  force?: number | null
}

/**
 * The per-token logit bias of one generation: the request's fixed biases (logit_bias, banned and allowed
 * tokens), OpenAI's frequency and presence penalties (additive, over the whole completion: llama.cpp's
 * own penalties only see a window of recent tokens), min_tokens' ban of ending tokens, and a forced token.
 *
 * Biases are written into TokenBias's internal map: its public `set()` silently skips end-of-generation
 * tokens, which min_tokens and a logit_bias on EOS must reach. One TokenBias is reused; node-llama-cpp
 * reads it afresh for every sampled token.
 */
export class SamplingBias {
  private readonly fixed = new Map<number, number>()
  private readonly bias: TokenBias
  private readonly dynamic: boolean
  /** Tokens whose bias the dynamic part changed for the last token. */
  private touched: number[] = []

  constructor(
    model: LlamaModel,
    private readonly options: SamplingOptions,
    private readonly stopTokens: readonly number[],
    minTokens: number,
    vocabularySize: number,
    /** Some tokens may be forced (`force` in BiasInputs), so the bias is read for every token. */
    mayForce = false,
  ) {
    this.bias = new TokenBias(model.tokenizer)
    if (options.allowedTokens) {
      const allowed = new Set(options.allowedTokens)
      for (let token = 0; token < vocabularySize; token++) if (!allowed.has(token)) this.fixed.set(token, -Infinity)
    }
    for (const [token, value] of options.logitBias) {
      this.fixed.set(token, value <= -100 ? -Infinity : value >= 100 ? FORCE_LOGIT : value)
    }
    for (const token of options.bannedTokens) this.fixed.set(token, -Infinity)
    this.dynamic = options.frequencyPenalty !== 0 || options.presencePenalty !== 0 || minTokens > 0 || mayForce
    const biases = internalBiases(this.bias)
    for (const [token, value] of this.fixed) biases.set(token as Token, value)
  }

  /** Whether any bias applies; without one the sampler skips the bias step. */
  get active(): boolean {
    return this.fixed.size > 0 || this.dynamic
  }

  /**
   * The bias for the next token. The fixed part is written once; only the entries the dynamic part
   * touched last time are reset, so an allow-list over a large vocabulary costs nothing per token.
   */
  current({ counts, suppressStops, force = null }: BiasInputs): TokenBias {
    if (!this.dynamic) return this.bias
    const biases = internalBiases(this.bias)
    for (const token of this.touched) {
      const fixed = this.fixed.get(token)
      if (fixed === undefined) biases.delete(token as Token)
      else biases.set(token as Token, fixed)
    }
    this.touched = []
    const { frequencyPenalty, presencePenalty } = this.options
    if (frequencyPenalty !== 0 || presencePenalty !== 0) {
      for (const [token, count] of counts) {
        biases.set(token as Token, (this.fixed.get(token) ?? 0) - count * frequencyPenalty - presencePenalty)
        this.touched.push(token)
      }
    }
    if (suppressStops) {
      for (const token of this.stopTokens) biases.set(token as Token, -Infinity)
      this.touched.push(...this.stopTokens)
    }
    if (force !== null) {
      // Wins over the request's own biases: a budget that a ban could defeat would be no cap.
      biases.set(force as Token, FORCE_LOGIT)
      this.touched.push(force)
    }
    return this.bias
  }
}

function internalBiases(bias: TokenBias): Map<Token, number> {
  return (bias as unknown as { _biases: Map<Token, number> })._biases
}
