import type { LlamaContextSequence, Token } from 'node-llama-cpp'

/**
 * How prompts are split into batches, and so what a later request may reuse. llama.cpp's numerics
 * depend on how a prompt is split into batches (a cached prefix evaluated as 119 + 1 tokens gives other
 * logits than the same 120 tokens in one batch), so the two goals pull apart:
 * - deterministic: only KV computed by whole, aligned chunks ([k·C, (k+1)·C)) is reusable; a fresh run
 *   of the same prompt computes those positions in exactly the same batches, so reuse never changes a
 *   seeded output. Costs prefill speed (more, smaller batches) and reuses only whole chunks.
 * - otherwise: a prompt goes in batches as large as the context allows, and any common prefix of what the
 *   KV cache holds (prompt and generated tokens) is reused; a warm run may then differ from a cold one.
 */
export interface PrefillPolicy {
  deterministic: boolean
  /** deterministic: the chunk size and alignment; otherwise the most prompt tokens one step evaluates. */
  chunkTokens: number
}

/** One parallel sequence of the model's context, and what its KV cache holds that a later request may reuse. */
export class Slot {
  busy = false
  /** The cache salt of the request whose tokens the KV cache holds: only the same salt may reuse them. */
  salt: string | null = null
  /** deterministic: prompt tokens whose KV came from whole aligned chunks (the reusable prefix). */
  private reusable: Token[] = []

  constructor(
    readonly index: number,
    readonly sequence: LlamaContextSequence,
    readonly prefill: PrefillPolicy,
  ) {}

  /** How many leading tokens of `prompt` this slot can skip (< prompt length; deterministic: whole chunks; 0 for another salt). */
  reusableLength(prompt: readonly Token[], salt: string | null): number {
    if (salt !== this.salt) return 0
    const held = this.prefill.deterministic ? this.reusable : this.sequence.contextTokens
    const limit = Math.min(held.length, prompt.length - 1)
    let common = 0
    while (common < limit && held[common] === prompt[common]) common++
    return this.prefill.deterministic ? common - (common % this.prefill.chunkTokens) : common
  }

  /** Where the prompt chunk that starts at `position` ends (at most `end`). */
  chunkEnd(position: number, end: number): number {
    const chunk = this.prefill.chunkTokens
    return Math.min(end, this.prefill.deterministic ? (Math.floor(position / chunk) + 1) * chunk : position + chunk)
  }

  /** Trims the KV cache to the first `keep` prompt tokens (0 clears it). */
  async keepPrefix(prompt: readonly Token[], keep: number): Promise<void> {
    this.reusable = this.reusable.slice(0, keep)
    if (keep === 0) await this.sequence.clearHistory()
    else await this.sequence.adaptStateToTokens(prompt.slice(0, keep) as Token[], false)
  }

  /** Records that prompt[start, end) was evaluated as one batch: reusable when that is a whole aligned chunk. */
  markEvaluated(prompt: readonly Token[], start: number, end: number): void {
    if (!this.prefill.deterministic) return // the KV cache's own tokens are the reusable prefix (reusableLength)
    const chunk = this.prefill.chunkTokens
    if (start === this.reusable.length && start % chunk === 0 && end === start + chunk) {
      this.reusable = prompt.slice(0, end) as Token[]
    }
  }

  /** After copying another slot's KV cache up to `upTo`, its reusable prefix is ours too. */
  adoptReusable(other: Slot, upTo: number): void {
    if (!this.prefill.deterministic) return
    const length = Math.min(other.reusable.length, upTo)
    this.reusable = other.reusable.slice(0, length - (length % this.prefill.chunkTokens))
  }

  /** Tokens held in the KV cache (for metrics). */
  get cachedTokens(): number {
    return this.sequence.nextTokenIndex
  }
}
