import {
  LlamaGrammarEvaluationState,
  type LlamaContextSequence,
  type LlamaContextSequenceRepeatPenalty,
  type LlamaModel,
  type SequenceEvaluateOptions,
  type Token,
} from 'node-llama-cpp'
import { EngineError, InvalidRequestError } from '../errors.js'
import type { GenerationEvent, PromptTokenLogprob, TokenLogprob } from '../generation/events.js'
import { OutputPipeline } from './output-pipeline.js'
import { THINK_CLOSE } from './reasoning-splitter.js'
import { SamplingBias } from './sampling-bias.js'
import { ThinkingBudget } from './thinking-budget.js'
import type { GenerationPlan } from './generation-plan.js'
import { echoPrompt } from './prompt-echo.js'
import type { Slot } from './slot.js'
import type { Vocabulary } from './vocabulary.js'

type Phase =
  | { kind: 'prefill' } // evaluating prompt chunks
  | { kind: 'waiting' } // n > 1 follower: waits for the leader's prompt, then copies it
  | { kind: 'sample'; input: Token[] } // the next step evaluates `input` and samples a token
  | { kind: 'done' }

/**
 * One choice of a request running on one slot: the decode loop. The prompt is evaluated in chunks
 * aligned to fixed positions (see Slot), then one token is sampled per engine step; the OutputPipeline
 * turns the sampled tokens into events.
 *
 * With n > 1 the first choice (the leader) evaluates the prompt up to its last token; the followers
 * copy that KV cache instead of evaluating it again, and every choice then evaluates the last prompt
 * token in the same batch with its own seed.
 *
 * The scheduler calls `step()` for every running generation at once, so their work shares one batch.
 */
export class Generation {
  private phase: Phase
  private position: number
  private iterator: AsyncGenerator<Token, void, void | Token | Token[]> | null = null
  /** Completion tokens, for the repetition penalty, and how often each occurred, for the other penalties. */
  private readonly generated: Token[] = []
  private readonly counts = new Map<number, number>()
  private readonly output: OutputPipeline
  private readonly bias: SamplingBias
  /** Closes the thinking segment at the request's budget; null = no budget (or no thinking). */
  private readonly thinkingBudget: ThinkingBudget | null
  private events: GenerationEvent[] = []
  /** The logprob of the token being sampled, handed to the pipeline with it. */
  private pendingLogprob: TokenLogprob | null = null
  /** Scores of the prompt tokens so far (prompt logprobs only). */
  private readonly promptScores: PromptTokenLogprob[] = []
  /** This choice's position in the grammar, when the output is constrained. */
  private readonly grammarState: LlamaGrammarEvaluationState | null
  /** Where the leader's prompt evaluation ends (n > 1 keeps the last token for every choice). */
  private readonly prefillEnd: number
  /** Prompt tokens a follower had to evaluate itself (1, or all when the copy was declined). */
  private promptEvaluatedHere = 1

  constructor(
    private readonly model: LlamaModel,
    private readonly vocabulary: Vocabulary,
    readonly slot: Slot,
    readonly plan: GenerationPlan,
    readonly choice: number,
    readonly cachedTokens: number,
  ) {
    const { request, promptTokens } = plan
    // n > 1 shares the prompt but not its last token; prompt logprobs need every position's logits.
    this.prefillEnd = request.n > 1 || request.promptLogprobs ? promptTokens.length - 1 : promptTokens.length
    this.position = cachedTokens
    this.phase = choice > 0 ? { kind: 'waiting' } : { kind: 'prefill' }
    this.output = new OutputPipeline({
      request,
      choice,
      promptTokens,
      cachedTokens,
      maxTokens: plan.maxTokens,
      detokenize: (tokens, keepSpecial, context) => model.detokenize(tokens as Token[], keepSpecial, context as Token[]),
      isEndToken: (token) => model.isEogToken(token as Token),
      turnStopTokens: plan.turnStopTokens,
      turnStopTexts: plan.turnStopTexts,
      toolFormat: plan.toolFormat,
      reasoning: plan.reasoning,
    })
    const budget = request.thinkingBudget ?? null
    this.thinkingBudget = plan.reasoning && budget !== null ? new ThinkingBudget(budget, model.tokenize(THINK_CLOSE, true)) : null
    this.bias = new SamplingBias(
      model,
      request.sampling,
      [...vocabulary.eogTokens, ...plan.turnStopTokens, ...request.stop.tokenIds],
      request.stop.minTokens,
      vocabulary.size,
      this.thinkingBudget !== null,
    )
    this.grammarState = plan.grammar ? new LlamaGrammarEvaluationState({ model, grammar: plan.grammar }) : null
    if (choice === 0 && request.echo && !request.promptLogprobs) this.reportPrompt(null)
    if (choice === 0 && request.promptLogprobs && this.prefillEnd === 0) {
      // A one-token prompt: nothing to evaluate before sampling, and its only token has no logprob.
      this.reportPrompt([{ token: vocabulary.text(promptTokens[0]!), bytes: vocabulary.bytes(promptTokens[0]!), logprob: null, top: null }])
    }
    if (this.phase.kind === 'prefill') this.enterSamplingAtLastChunk()
  }

  /** Completion tokens so far. */
  get completionTokens(): number {
    return this.generated.length
  }

  /** Prompt tokens this generation evaluated (not reused from the cache or copied from its leader). */
  get evaluatedPromptTokens(): number {
    return this.choice === 0 ? this.plan.promptTokens.length - this.cachedTokens : this.promptEvaluatedHere
  }

  get finished(): boolean {
    return this.phase.kind === 'done'
  }

  get prefilling(): boolean {
    return this.phase.kind === 'prefill'
  }

  /** Still before its prompt's last step: prefilling, or a follower waiting for its leader's prompt. */
  get awaitingPrompt(): boolean {
    return this.phase.kind === 'prefill' || this.phase.kind === 'waiting'
  }

  /** The leader has evaluated the shared prompt: followers may copy it. */
  get promptShared(): boolean {
    return this.phase.kind !== 'prefill' && this.phase.kind !== 'waiting'
  }

  get waitingForLeader(): boolean {
    return this.phase.kind === 'waiting'
  }

  /** Tokens this generation puts into the next batch. */
  get nextBatchTokens(): number {
    switch (this.phase.kind) {
      case 'prefill':
        return this.chunkEnd() - this.position
      case 'sample':
        return this.phase.input.length
      default:
        return 0
    }
  }

  /** Events produced since the last call. */
  takeEvents(): GenerationEvent[] {
    const events = this.events
    this.events = []
    return events.length === 0 ? this.output.take() : [...events, ...this.output.take()]
  }

  /** Follower of an n > 1 request: take the leader's evaluated prompt instead of evaluating it. */
  async followLeader(leader: Generation): Promise<void> {
    const shared = this.prefillEnd
    const copied = await copyState(this.slot.sequence, leader.slot.sequence, shared).catch(() => false)
    if (copied) {
      this.slot.adoptReusable(leader.slot, shared)
      this.position = shared
      this.enterSampling()
    } else {
      // The copy is an internal llama.cpp path; when it declines, evaluate the prompt here instead.
      await this.slot.keepPrefix(this.plan.promptTokens, 0)
      this.promptEvaluatedHere = this.plan.promptTokens.length
      this.position = 0
      this.phase = { kind: 'prefill' }
    }
  }

  /** Issues this step's work; all generations' steps are awaited together so they share one batch. */
  async step(): Promise<void> {
    const phase = this.phase
    if (phase.kind === 'prefill') {
      const end = this.chunkEnd()
      if (this.plan.request.promptLogprobs) await this.evaluateScoringPrompt(this.position, end)
      else await this.slot.sequence.evaluateWithoutGeneratingNewTokens(this.plan.promptTokens.slice(this.position, end))
      this.slot.markEvaluated(this.plan.promptTokens, this.position, end)
      this.position = end
      this.enterSamplingAtLastChunk()
      return
    }
    if (phase.kind !== 'sample') return
    const token = this.plan.request.logprobs ? await this.sampleWithLogprobs(phase.input) : await this.sampleNext(phase.input)
    if (this.position < this.plan.promptTokens.length) {
      this.slot.markEvaluated(this.plan.promptTokens, this.position, this.plan.promptTokens.length)
      this.position = this.plan.promptTokens.length
    }
    if (token === null) return this.end('stop')
    this.phase = { kind: 'sample', input: [token] }
    this.accept(token)
  }

  /**
   * The request's deadline passed: a choice that already sent text ends as if it reached max_tokens;
   * one that sent nothing reports false (its request fails with a timeout instead).
   */
  endAtDeadline(): boolean {
    if (!this.output.emitted) return false
    if (!this.finished) this.end('length')
    return true
  }

  /** Stops generating; the slot's KV cache keeps its reusable aligned prefix. */
  async close(): Promise<void> {
    this.phase = { kind: 'done' }
    await this.iterator?.return()
    this.iterator = null
  }

  private chunkEnd(): number {
    return this.slot.chunkEnd(this.position, this.prefillEnd)
  }

  /** The prompt's last chunk is evaluated by the step that samples (n > 1: only its last token is). */
  private enterSamplingAtLastChunk(): void {
    if (this.position >= this.prefillEnd || this.chunkEnd() === this.plan.promptTokens.length) this.enterSampling()
  }

  private enterSampling(): void {
    this.phase = { kind: 'sample', input: this.plan.promptTokens.slice(this.position) }
  }

  /**
   * Evaluates prompt[start, end) and scores each next prompt token against the distribution its
   * predecessor produced (legacy completions' echo + logprobs). The whole prompt is scored by the time
   * the prefill ends, and the scores go out as one `prompt` event.
   */
  private async evaluateScoringPrompt(start: number, end: number): Promise<void> {
    const prompt = this.plan.promptTokens
    const top = this.plan.request.promptLogprobs!.top
    const results = await this.slot.sequence.controlledEvaluate(
      prompt.slice(start, end).map((token, i) => [
        token,
        {
          generateNext: {
            logits: { filter: { tokens: [prompt[start + i + 1]!], includeTop: Math.max(1, top) } },
            totalLogitWeight: true,
          },
        },
      ]),
    )
    if (start === 0) this.promptScores.push({ token: this.vocabulary.text(prompt[0]!), bytes: this.vocabulary.bytes(prompt[0]!), logprob: null, top: null })
    results.forEach((result, i) => {
      const next = prompt[start + i + 1]!
      const { logits, totalLogitWeight } = result?.next ?? {}
      if (!logits || totalLogitWeight == null) throw new EngineError('The engine returned no logits for a prompt token.')
      const normalizer = Math.max(...logits.values()) + Math.log(totalLogitWeight)
      const alternative = (t: Token) => ({ token: this.vocabulary.text(t), bytes: this.vocabulary.bytes(t), logprob: logits.get(t)! - normalizer })
      const ranked = [...logits.keys()].sort((a, b) => logits.get(b)! - logits.get(a)!)
      this.promptScores.push({ ...alternative(next), top: ranked.slice(0, top).map(alternative) })
    })
    if (end >= this.prefillEnd) this.reportPrompt(this.promptScores)
  }

  /** The prompt as the client sent it (see echoPrompt): special-token text kept, the BOS the tokenizer adds left out. */
  private reportPrompt(logprobs: PromptTokenLogprob[] | null): void {
    const { input } = this.plan.request
    const tokens = this.plan.promptTokens
    const withoutBos = tokens[0] === this.model.tokens.bos ? 1 : 0
    const sent = input.kind === 'text' && !this.plan.promptCut ? input.text : null
    const pieces = logprobs?.slice(withoutBos) ?? [{ token: this.model.detokenize(tokens.slice(withoutBos), true), bytes: [], logprob: null, top: null }]
    const echoed = echoPrompt(pieces, sent, this.vocabulary.spacePrefix)
    this.events.push({ type: 'prompt', text: echoed.text, logprobs: logprobs ? echoed.logprobs : null })
  }

  private async sampleNext(input: Token[]): Promise<Token | null> {
    if (!this.iterator) {
      this.iterator = this.slot.sequence.evaluate(input, this.evaluateOptions())
    }
    try {
      const result = await this.iterator.next()
      return result.done ? null : result.value
    } catch (error) {
      throw this.samplingFailure(error)
    }
  }

  /**
   * Logprobs come from a controlled evaluation, one call per token, reporting the top logits after the
   * request's biases, penalties and temperature: the distribution the token was sampled from. Each call
   * builds a fresh sampler, so each token gets its own seed derived from the request's.
   */
  private async sampleWithLogprobs(input: Token[]): Promise<Token | null> {
    const top = this.plan.request.logprobs!.top
    const last = input.at(-1)!
    const results = await this.slot.sequence.controlledEvaluate([
      ...input.slice(0, -1),
      [
        last,
        {
          generateNext: {
            token: true,
            // includeTop pays for the sort; it is also the only way to learn the maximum logit.
            logits: { filter: { tokens: [], includeTop: Math.max(1, top), includeSelected: true } },
            totalLogitWeight: true,
            options: { ...this.evaluateOptions(), seed: tokenSeed(this.plan.request.sampling.seed + this.choice, this.generated.length) },
          },
        },
      ],
    ])
    const next = results.at(-1)?.next
    const token = next?.token
    // A controlled evaluation that asked for a token and got none failed to sample (see loaded-model.ts).
    if (token == null) throw this.samplingFailure(new Error('no token was sampled'))
    if (!next?.logits || next.totalLogitWeight == null) return null
    const logits = next.logits
    const max = logits.values().next().value!
    const logNormalizer = max + Math.log(next.totalLogitWeight)
    const alternative = (t: Token) => ({ token: this.vocabulary.text(t), bytes: this.vocabulary.bytes(t), logprob: logits.get(t)! - logNormalizer })
    this.pendingLogprob = { ...alternative(token), top: [...logits.keys()].slice(0, top).map(alternative) }
    return token
  }

  /**
   * Sampling fails when a grammar has no token left that it accepts and the request's restrictions allow:
   * the request asked for the impossible, so it is the request's error, named by the field that set the grammar.
   */
  private samplingFailure(error: unknown): Error {
    const grammar = this.plan.request.grammar ?? (this.plan.grammar ? { param: 'tools' } : null)
    if (!grammar) return error instanceof Error ? error : new Error(String(error))
    return new InvalidRequestError(
      `Sampling stopped: no token satisfies the grammar from '${grammar.param}' together with the request's token ` +
        'restrictions (logit_bias, allowed_token_ids, bad_token_ids). Check the grammar for rules that match nothing.',
      grammar.param,
    )
  }

  private evaluateOptions(): SequenceEvaluateOptions {
    // Sampler settings pass through under node-llama-cpp's names (SamplerSettings): a new one needs no code here.
    const { seed, repetitionPenalty, frequencyPenalty: _f, presencePenalty: _p, logitBias: _l, bannedTokens: _b, allowedTokens: _a, ...sampler } =
      this.plan.request.sampling
    const repeatPenalty: LlamaContextSequenceRepeatPenalty | undefined =
      repetitionPenalty === 1 ? undefined : { punishTokens: () => [...this.plan.promptTokens, ...this.generated], penalty: repetitionPenalty }
    return {
      // `topK: null` drops the top-k sampler (node-llama-cpp reads null as "off"); 0 would sort the whole vocabulary every token.
      ...(sampler as Omit<SequenceEvaluateOptions, 'topK'> & { topK?: number }),
      seed: (seed + this.choice) >>> 0,
      yieldEogToken: true,
      ...(this.bias.active ? { tokenBias: () => this.bias.current({ counts: this.counts, suppressStops: this.belowMinTokens, force: this.forcedToken() }) } : {}),
      ...(repeatPenalty ? { repeatPenalty } : {}),
      ...(this.grammarState ? { grammarEvaluationState: this.grammarState } : {}),
    }
  }

  private forcedToken(): number | null {
    const { inside, tokens } = this.output.thinking
    return this.thinkingBudget?.forcedToken(inside, tokens) ?? null
  }

  private get belowMinTokens(): boolean {
    return this.generated.length < this.plan.request.stop.minTokens
  }

  /** Hands the sampled token to the output pipeline; counts it for the penalties when it is a completion token. */
  private accept(token: Token): void {
    const before = this.output.completionTokens
    const logprob = this.pendingLogprob ?? undefined
    this.pendingLogprob = null
    this.thinkingBudget?.accepted(token)
    this.output.push(token, logprob)
    if (this.output.completionTokens > before) {
      this.generated.push(token)
      this.counts.set(token, (this.counts.get(token) ?? 0) + 1)
    }
    if (this.output.finished) this.phase = { kind: 'done' }
  }

  private end(reason: 'stop' | 'length'): void {
    this.output.end(reason)
    if (this.output.finished) this.phase = { kind: 'done' }
  }
}

/**
 * node-llama-cpp's internal copy of one sequence's KV cache into another (copied, not re-evaluated:
 * 0.3 ms against seconds for a long prompt). Not public API; a refusal falls back to evaluation.
 */
function copyState(target: LlamaContextSequence, source: LlamaContextSequence, upTo: number): Promise<boolean> {
  const internal = target as unknown as { _copyStateFromOtherSequence(other: LlamaContextSequence, upTo: number): Promise<boolean> }
  return internal._copyStateFromOtherSequence(source, upTo)
}

/** A distinct, reproducible seed per generated token (each controlled evaluation starts a new sampler). */
function tokenSeed(seed: number, index: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0
}
