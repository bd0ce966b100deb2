/** One sequence's share of a llama.cpp batch, in the order it was added. */
export interface BatchPart {
  sequenceId: number
  tokens: number
}

/**
 * How many passes over the weights llama.cpp makes to decode one batch. node-llama-cpp gives every slot
 * its own KV stream (`kv_unified` off), and llama.cpp then splits a batch into micro-batches
 * (`llama_batch_allocr::split_equal`, sequential) that each hold the same number of tokens of a set of
 * sequences whose ids rise by one in batch order. So a batch whose parts come in the order 3, 2, 1, 0
 * costs four passes where 0, 1, 2, 3 costs one; and a prompt chunk next to single decode tokens costs a
 * second pass for its remaining tokens. This mirrors that rule (the micro-batch size is the batch size).
 */
export function batchPasses(parts: readonly BatchPart[]): number {
  const left = parts.map((p) => p.tokens)
  let passes = 0
  for (;;) {
    const chosen: number[] = []
    for (let i = 0; i < parts.length; i++) {
      if (left[i]! <= 0) continue
      if (chosen.length === 0 || parts[i]!.sequenceId === parts[chosen.at(-1)!]!.sequenceId + 1) chosen.push(i)
    }
    if (chosen.length === 0) return passes
    const take = Math.min(...chosen.map((i) => left[i]!))
    for (const i of chosen) left[i]! -= take
    passes++
  }
}
