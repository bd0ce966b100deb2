/** A slot as the choice sees it: where it is, whether it is taken, and how much of the prompt it holds. */
export interface SlotCandidate {
  index: number
  busy: boolean
  /** Leading prompt tokens its KV cache already holds. */
  reuse: number
}

/** A reused prefix shorter than this is mostly the chat template's opening tokens: not worth a batch split. */
export const MIN_WORTHWHILE_REUSE = 32

/**
 * Picks the slots (indices) for a request of n choices; null when fewer than n are free. The first slot is
 * the one that reuses the most of the prompt. Among slots that reuse nothing worthwhile, and for the
 * other choices, it is the one that leaves the busy slots in the fewest runs of adjacent indices: llama.cpp
 * decodes each run of adjacent slots in a separate pass over the weights (see batchPasses), every step.
 */
export function chooseSlots(slots: readonly SlotCandidate[], n: number): number[] | null {
  const busy = new Set(slots.filter((s) => s.busy).map((s) => s.index))
  const free = slots.filter((s) => !s.busy)
  if (free.length < n) return null
  const worth = (s: SlotCandidate) => (s.reuse >= MIN_WORTHWHILE_REUSE ? s.reuse : 0)
  const chosen: number[] = []
  for (let choice = 0; choice < n; choice++) {
    const open = free.filter((s) => !busy.has(s.index))
    open.sort((a, b) => {
      if (choice === 0 && worth(a) !== worth(b)) return worth(b) - worth(a)
      const runs = runsWith(busy, a.index) - runsWith(busy, b.index)
      if (runs !== 0) return runs
      return choice === 0 && a.reuse !== b.reuse ? b.reuse - a.reuse : a.index - b.index
    })
    const pick = open[0]!.index
    busy.add(pick)
    chosen.push(pick)
  }
  return chosen
}

/** Runs of adjacent indices among the busy slots once `index` is taken too. */
function runsWith(busy: ReadonlySet<number>, index: number): number {
  const taken = [...busy, index].sort((a, b) => a - b)
  return taken.filter((slot, i) => i === 0 || slot !== taken[i - 1]! + 1).length
}
