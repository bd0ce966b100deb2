import type { LlamaContext } from 'node-llama-cpp'
import type { Logger } from 'pino'
import type { BatchPart } from './batch-passes.js'

/** Two wrappers around node-llama-cpp internals of a model's context, each falling silent when the internal is gone. */

/**
 * Reports every llama.cpp batch as the engine built it, rather than what the scheduler meant to submit:
 * node-llama-cpp starts a batch with the native `initBatch(n)`, adds each sequence's tokens with
 * `addToBatch(sequenceId, firstTokenIndex, tokens, logitIndexes)` and runs it with `decodeBatch`. Internal
 * API: when it is missing the observer simply stays silent.
 */
export function observeBatches(context: LlamaContext, onBatch: (parts: BatchPart[]) => void): void {
  type Native = { initBatch?: (n: number) => unknown; addToBatch?: (sequenceId: number, ...rest: unknown[]) => unknown; decodeBatch?: (...args: unknown[]) => unknown }
  const native = (context as unknown as { _ctx?: Native })._ctx
  const initBatch = native?.initBatch?.bind(native)
  const addToBatch = native?.addToBatch?.bind(native)
  const decodeBatch = native?.decodeBatch?.bind(native)
  if (!native || !initBatch || !addToBatch || !decodeBatch) return
  let parts: BatchPart[] = []
  Object.defineProperties(native, {
    initBatch: {
      value: (tokens: number) => {
        parts = []
        return initBatch(tokens)
      },
    },
    addToBatch: {
      value: (sequenceId: number, firstTokenIndex: unknown, tokens: ArrayLike<number>, ...rest: unknown[]) => {
        parts.push({ sequenceId, tokens: tokens.length })
        return addToBatch(sequenceId, firstTokenIndex, tokens, ...rest)
      },
    },
    decodeBatch: {
      value: (...args: unknown[]) => {
        onBatch(parts)
        return decodeBatch(...args)
      },
    },
  })
}

/**
 * A sampling step that fails inside llama.cpp (a grammar left with no token it can accept: an empty character
 * class, or every token it allows banned by the request's biases) rejects inside node-llama-cpp's batch loop,
 * where nothing catches it: the process would die of an unhandled rejection and the batch's other sequences
 * would wait forever. The native `sampleToken` (internal API) is wrapped to answer "no token" (-1) instead,
 * which node-llama-cpp turns into an error for that one sequence.
 */
export function containSamplingFailures(context: LlamaContext, log: Logger): void {
  type SampleToken = (...args: unknown[]) => Promise<unknown>
  const native = (context as unknown as { _ctx?: { sampleToken?: SampleToken } })._ctx
  const sampleToken = native?.sampleToken?.bind(native)
  if (!native || !sampleToken) return
  Object.defineProperty(native, 'sampleToken', {
    value: async (...args: unknown[]) => {
      try {
        return await sampleToken(...args)
      } catch (error) {
        log.warn({ err: error }, 'a sampling step failed; its request is ended')
        // The native call answers an array when its third argument asks for probabilities.
        return typeof args[2] === 'boolean' ? [-1] : -1
      }
    },
  })
}
