import type { LlamaContextSequence, Token } from 'node-llama-cpp'

/**
 * One parallel sequence of the model's context, and what its KV cache holds that a later request may
 * reuse. llama.cpp's numerics depend on how a prompt is split into batches, so only KV computed by
 * whole, aligned prefill chunks ([k·C, (k+1)·C)) is reusable: a fresh run of the same prompt computes
 * those positions in exactly the same batches, so reuse never changes a seeded output.
 */
export class Slot {
  busy = false
  /** Prompt tokens whose KV came from whole aligned chunks: the reusable prefix. */
  private reusable: Token[] = []

  constructor(
    readonly index: number,
    readonly sequence: LlamaContextSequence,
    readonly chunkTokens: number,
  ) {}

  /** How many leading tokens of `prompt` this slot can skip (a multiple of the chunk size, < prompt length). */
  reusableLength(prompt: readonly Token[]): number {
    const limit = Math.min(this.reusable.length, prompt.length - 1)
    let common = 0
    while (common < limit && this.reusable[common] === prompt[common]) common++
    return common - (common % this.chunkTokens)
  }

  /** Trims the KV cache to the first `keep` prompt tokens (0 clears it). */
  async keepPrefix(prompt: readonly Token[], keep: number): Promise<void> {
    this.reusable = this.reusable.slice(0, keep)
    if (keep === 0) await this.sequence.clearHistory()
    else await this.sequence.adaptStateToTokens(prompt.slice(0, keep) as Token[], false)
  }

  /** Records that prompt[start, end) was evaluated as one batch: reusable when that is a whole aligned chunk. */
  markEvaluated(prompt: readonly Token[], start: number, end: number): void {
    if (start === this.reusable.length && start % this.chunkTokens === 0 && end === start + this.chunkTokens) {
      this.reusable = prompt.slice(0, end) as Token[]
    }
  }

  /** After copying another slot's KV cache up to `upTo`, its reusable prefix is ours too. */
  adoptReusable(other: Slot, upTo: number): void {
    const length = Math.min(other.reusable.length, upTo)
    this.reusable = other.reusable.slice(0, length - (length % this.chunkTokens))
  }

  /** Tokens held in the KV cache (for metrics). */
  get cachedTokens(): number {
    return this.sequence.nextTokenIndex
  }
}
