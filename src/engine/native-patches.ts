import type { LlamaContext } from 'node-llama-cpp'
import type { Logger } from 'pino'

/** Two wrappers around node-llama-cpp internals of a model's context, each falling silent when the internal is gone. */

/**
 * Counts the tokens of every llama.cpp batch, from the engine itself rather than from what the scheduler
 * meant to submit: node-llama-cpp starts each batch with the native `initBatch(n)`. Internal API: when
 * it is missing the counter simply stays silent.
 */
export function observeBatches(context: LlamaContext, onBatch: (tokens: number) => void): void {
  const native = (context as unknown as { _ctx?: { initBatch?: (n: number) => unknown } })._ctx
  const initBatch = native?.initBatch?.bind(native)
  if (!native || !initBatch) return
  Object.defineProperty(native, 'initBatch', {
    value: (tokens: number) => {
      onBatch(tokens)
      return initBatch(tokens)
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
