import { describe, expect, it } from 'vitest'
import { batchPasses } from '../src/engine/batch-passes.js'
import { chooseSlots, MIN_WORTHWHILE_REUSE, type SlotCandidate } from '../src/engine/slot-choice.js'

const decode = (...ids: number[]) => ids.map((sequenceId) => ({ sequenceId, tokens: 1 }))

describe('batchPasses (llama.cpp split_equal over per-sequence KV streams)', () => {
  it('one pass for decode tokens of adjacent slots in ascending order', () => {
    expect(batchPasses(decode(0, 1, 2, 3))).toBe(1)
    expect(batchPasses(decode(5, 6))).toBe(1)
    expect(batchPasses(decode(2))).toBe(1)
    expect(batchPasses([])).toBe(0)
  })

  it('a pass per run when the order falls or skips a slot', () => {
    expect(batchPasses(decode(3, 2, 1, 0))).toBe(4)
    expect(batchPasses(decode(0, 2, 3))).toBe(2)
    // Later parts that continue the run join it: 0 and 1 share a pass, then 2 and 3.
    expect(batchPasses(decode(0, 2, 1, 3))).toBe(2)
  })

  it('parts of unequal length: equal shares first, the rest in more passes', () => {
    expect(batchPasses([...decode(0, 1), { sequenceId: 2, tokens: 200 }])).toBe(2)
    expect(batchPasses([{ sequenceId: 0, tokens: 128 }, { sequenceId: 1, tokens: 128 }])).toBe(1)
    expect(batchPasses([{ sequenceId: 0, tokens: 300 }])).toBe(1)
  })
})

const slots = (busy: number[], reuse: Record<number, number> = {}, total = 4): SlotCandidate[] =>
  Array.from({ length: total }, (_, index) => ({ index, busy: busy.includes(index), reuse: busy.includes(index) ? 0 : (reuse[index] ?? 0) }))

describe('chooseSlots', () => {
  it('null when fewer slots than choices are free', () => {
    expect(chooseSlots(slots([0, 1, 2]), 2)).toBeNull()
    expect(chooseSlots(slots([0, 1, 2, 3]), 1)).toBeNull()
  })

  it('a prompt whose prefix a slot holds goes to that slot, even away from the busy ones', () => {
    expect(chooseSlots(slots([0], { 3: MIN_WORTHWHILE_REUSE }), 1)).toEqual([3])
    expect(chooseSlots(slots([], { 1: 40, 2: 90 }), 1)).toEqual([2])
  })

  it('without a worthwhile prefix, the slot that keeps the busy ones adjacent', () => {
    // Slot 3 holds the chat template's opening tokens only: slot 1 joins the run 0–2 instead.
    expect(chooseSlots(slots([0, 2], { 3: MIN_WORTHWHILE_REUSE - 1 }), 1)).toEqual([1])
    expect(chooseSlots(slots([1]), 1)).toEqual([0])
    expect(chooseSlots(slots([]), 1)).toEqual([0])
    // Among equally adjacent slots the longer (small) prefix wins.
    expect(chooseSlots(slots([1], { 0: 2, 2: 5 }), 1)).toEqual([2])
  })

  it('the other choices of n > 1 extend the run', () => {
    expect(chooseSlots(slots([1], {}, 6), 3)).toEqual([0, 2, 3])
    expect(chooseSlots(slots([], { 4: 100 }, 6), 2)).toEqual([4, 3])
  })
})
