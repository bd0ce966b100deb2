import type { LlamaModel, SequenceEvaluateOptions, Token } from 'node-llama-cpp'
import { StopMatcher } from './stop-matcher.js'
import { TokenTextDecoder } from './token-text-decoder.js'
import type { Slot } from './slot.js'
import type { FinishReason, GenerationEvent, GenerationRequest } from './types.js'

/** `topK: null` drops the top-k sampler; `topK: 0` would sort the whole vocabulary every token. */
const NO_TOP_K = null as unknown as number

export interface GenerationPlan {
  request: GenerationRequest
  promptTokens: Token[]
  /** Completion tokens allowed: the request's or model's ceiling, clamped to the free context. */
  maxTokens: number
  stopTokenIds: ReadonlySet<number>
  /** Turn terminators of the chat format: end generation like EOS, never reported as stop_reason. */
  hiddenStops: readonly string[]
}

/**
 * One request running on a slot: prefill in aligned chunks, then one token per engine step. It turns
 * sampled tokens into `text` events (UTF-8 and stop strings held back as needed) and a `finished` event.
 * The scheduler calls `step()` for every running generation at once, so their work lands in one batch.
 */
export class Generation {
  private iterator: AsyncGenerator<Token, void, void | Token | Token[]> | null = null
  private position: number
  private completionTokens = 0
  private unreportedTokens = 0
  private readonly decoder: TokenTextDecoder
  private readonly stops: StopMatcher
  private readonly userStops: ReadonlySet<string>
  private events: GenerationEvent[] = []
  finished = false

  constructor(
    private readonly model: LlamaModel,
    readonly slot: Slot,
    readonly plan: GenerationPlan,
    readonly cachedTokens: number,
  ) {
    this.position = cachedTokens
    this.decoder = new TokenTextDecoder(
      (tokens, context) => model.detokenize(tokens as Token[], false, context as Token[]),
      plan.promptTokens,
    )
    this.userStops = new Set(plan.request.stop)
    this.stops = new StopMatcher([...plan.request.stop, ...plan.hiddenStops])
    this.events.push({ type: 'started', promptTokens: plan.promptTokens.length, cachedTokens })
  }

  get prefilling(): boolean {
    return this.iterator === null
  }

  /** Tokens this generation puts into the next batch. */
  get nextBatchTokens(): number {
    return this.iterator ? 1 : this.chunkEnd() - this.position
  }

  /** Events produced since the last call. */
  takeEvents(): GenerationEvent[] {
    const events = this.events
    this.events = []
    return events
  }

  /** Issues this step's work; all generations' steps are awaited together so they share one batch. */
  async step(): Promise<void> {
    if (this.finished) return
    if (this.iterator === null) {
      const end = this.chunkEnd()
      const chunk = this.plan.promptTokens.slice(this.position, end)
      if (end < this.plan.promptTokens.length) {
        await this.slot.sequence.evaluateWithoutGeneratingNewTokens(chunk)
        this.slot.markEvaluated(this.plan.promptTokens, end)
        this.position = end
        return
      }
      this.iterator = this.slot.sequence.evaluate(chunk, this.evaluateOptions())
      this.position = end
      const result = await this.iterator.next()
      this.slot.markEvaluated(this.plan.promptTokens, end)
      return this.accept(result)
    }
    return this.accept(await this.iterator.next())
  }

  /** Stops generating and leaves the slot's KV cache as it is (its aligned prefix stays reusable). */
  async close(): Promise<void> {
    this.finished = true
    await this.iterator?.return()
    this.iterator = null
  }

  private chunkEnd(): number {
    const chunk = this.slot.chunkTokens
    return Math.min(this.plan.promptTokens.length, (Math.floor(this.position / chunk) + 1) * chunk)
  }

  private evaluateOptions(): SequenceEvaluateOptions {
    const { temperature, topP, seed } = this.plan.request.sampling
    return { temperature, topP, topK: NO_TOP_K, seed, yieldEogToken: true }
  }

  private accept(result: IteratorResult<Token, void>): void {
    if (result.done) return this.finishFlushing('stop')
    const token = result.value
    if (this.model.isEogToken(token) || this.plan.stopTokenIds.has(token)) return this.finishFlushing('stop')
    this.completionTokens++
    this.unreportedTokens++
    const match = this.stops.push(this.decoder.push(token))
    this.emitText(match.emit)
    if (match.stop !== undefined) return this.finishOnStop(match.stop)
    if (this.completionTokens >= this.plan.maxTokens) return this.finishFlushing('length')
  }

  /** Ends without a stop string so far: what was held back can no longer become one, so it is real text. */
  private finishFlushing(reason: FinishReason): void {
    const tail = this.stops.push(this.decoder.flush())
    this.emitText(tail.emit)
    if (tail.stop !== undefined) return this.finishOnStop(tail.stop)
    this.emitText(this.stops.flush())
    this.finish(reason, null)
  }

  private finishOnStop(stop: string): void {
    this.finish('stop', this.userStops.has(stop) ? stop : null)
  }

  private emitText(text: string): void {
    if (!text) return
    this.events.push({ type: 'text', text, tokens: this.unreportedTokens })
    this.unreportedTokens = 0
  }

  private finish(reason: FinishReason, stopReason: string | number | null): void {
    this.finished = true
    this.events.push({
      type: 'finished',
      reason,
      stopReason,
      usage: {
        promptTokens: this.plan.promptTokens.length,
        completionTokens: this.completionTokens,
        cachedTokens: this.cachedTokens,
      },
    })
  }
}
