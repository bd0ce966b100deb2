import {
  LlamaGrammarEvaluationState,
  type LlamaContextSequence,
  type LlamaContextSequenceRepeatPenalty,
  type LlamaGrammar,
  type LlamaModel,
  type SequenceEvaluateOptions,
  type Token,
} from 'node-llama-cpp'
import { EngineError, InvalidRequestError } from '../errors.js'
import { randomBytes } from 'node:crypto'
import { validateJson } from './json-validator.js'
import { ReasoningSplitter, type ReasoningPiece } from './reasoning-splitter.js'
import { SamplingBias } from './sampling-bias.js'
import { StopMatcher } from './stop-matcher.js'
import { TokenTextDecoder } from './token-text-decoder.js'
import type { ToolCallFormat } from './tool-call-formats.js'
import { asObjectSchema } from './tool-call-grammar.js'
import { ToolCallParser, type ToolParseEvent } from './tool-call-parser.js'
import type { Slot } from './slot.js'
import type { FinishReason, GenerationEvent, GenerationRequest, PromptTokenLogprob, TokenLogprob } from './types.js'
import type { Vocabulary } from './vocabulary.js'

/** `topK: null` drops the top-k sampler; `topK: 0` would sort the whole vocabulary every token. */
const NO_TOP_K = null as unknown as number

export interface GenerationPlan {
  request: GenerationRequest
  promptTokens: Token[]
  /** Completion tokens allowed per choice: the request's or model's ceiling, clamped to the free context. */
  maxTokens: number
  /** Chat-format turn terminators: they end generation like EOS and are never reported as stop_reason. */
  turnStopTokens: ReadonlySet<number>
  turnStopTexts: readonly string[]
  /** Compiled grammar of a structured-output or tool-calling request. */
  grammar: LlamaGrammar | null
  /** The format tool calls are read in; null = the output is only text (no tools, or tool choice `none`). */
  toolFormat: ToolCallFormat | null
  /** A thinking model's prompt (see RenderedPrompt): the output is split into reasoning and content. null = plain. */
  reasoning?: { startsInside: boolean } | null
}

type Phase =
  | { kind: 'prefill' } // evaluating prompt chunks
  | { kind: 'waiting' } // n > 1 follower: waits for the leader's prompt, then copies it
  | { kind: 'sample'; input: Token[] } // the next step evaluates `input` and samples a token
  | { kind: 'done' }

/**
 * One choice of a request running on one slot. The prompt is evaluated in chunks aligned to fixed
 * positions (see Slot), then one token is sampled per engine step. Sampled tokens become `text` events
 * (UTF-8 and stop strings held back as needed) and one `finished` event.
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
  private readonly generated: Token[] = []
  private readonly counts = new Map<number, number>()
  private textEmitted = false
  private unreportedTokens = 0
  private pendingLogprobs: TokenLogprob[] = []
  private readonly decoder: TokenTextDecoder
  private readonly stops: StopMatcher
  private readonly bias: SamplingBias
  private events: GenerationEvent[] = []
  /** Scores of the prompt tokens so far (prompt logprobs only). */
  private readonly promptScores: PromptTokenLogprob[] = []
  /** This choice's position in the grammar, when the output is constrained. */
  private readonly grammarState: LlamaGrammarEvaluationState | null
  /** The emitted text, kept only when it must be validated at the end. */
  private text = ''
  /** Splits the output into content and tool calls, when calls are possible. */
  private readonly toolParser: ToolCallParser | null
  /** The calls read so far: name and arguments text, validated at the end. */
  private readonly toolCalls: Array<{ name: string; arguments: string }> = []
  /** Splits a thinking model's output into reasoning and content (before stops and tool calls see it). */
  private readonly splitter: ReasoningSplitter | null
  /** Completion tokens generated inside the thinking segment, markers included. */
  private reasoningTokens = 0
  /** Tokens read while the splitter could not yet tell whether a segment opens (counted once it can). */
  private undecidedTokens = 0
  /** generated.length when the last token was classified (flushes route text without a new token). */
  private countedUpTo = 0
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
    this.decoder = new TokenTextDecoder(
      (tokens, context) => model.detokenize(tokens as Token[], !request.skipSpecialTokens, context as Token[]),
      promptTokens,
    )
    this.stops = new StopMatcher([...request.stop.strings, ...plan.turnStopTexts])
    this.bias = new SamplingBias(
      model,
      request.sampling,
      [...vocabulary.eogTokens, ...plan.turnStopTokens, ...request.stop.tokenIds],
      request.stop.minTokens,
      vocabulary.size,
    )
    this.grammarState = plan.grammar ? new LlamaGrammarEvaluationState({ model, grammar: plan.grammar }) : null
    this.toolParser = plan.toolFormat ? new ToolCallParser(plan.toolFormat) : null
    this.splitter = plan.reasoning ? new ReasoningSplitter(plan.reasoning.startsInside) : null
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
    return events
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
    if (token === null) return this.finishFlushing('stop')
    this.phase = { kind: 'sample', input: [token] }
    this.accept(token)
  }

  /**
   * The request's deadline passed: a choice that already sent text ends as if it reached max_tokens;
   * one that sent nothing reports false (its request fails with a timeout instead).
   */
  endAtDeadline(): boolean {
    if (!this.textEmitted) return false
    if (!this.finished) this.finishFlushing('length')
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

  /** The prompt as the client sent it: special-token text kept, the BOS the tokenizer adds left out. */
  private reportPrompt(logprobs: PromptTokenLogprob[] | null): void {
    const tokens = this.plan.promptTokens
    const bos = this.model.tokens.bos
    const text = this.model.detokenize(tokens[0] === bos ? tokens.slice(1) : tokens, true)
    const scored = logprobs && tokens[0] === bos ? logprobs.slice(1) : logprobs
    this.events.push({ type: 'prompt', text, logprobs: scored })
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
    this.pendingLogprobs.push({ ...alternative(token), top: [...logits.keys()].slice(0, top).map(alternative) })
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
    const { temperature, topP, topK, minP, seed, repetitionPenalty } = this.plan.request.sampling
    const repeatPenalty: LlamaContextSequenceRepeatPenalty | undefined =
      repetitionPenalty === 1 ? undefined : { punishTokens: () => [...this.plan.promptTokens, ...this.generated], penalty: repetitionPenalty }
    return {
      temperature,
      topP,
      topK: topK ?? NO_TOP_K,
      minP,
      seed: (seed + this.choice) >>> 0,
      yieldEogToken: true,
      ...(this.bias.active ? { tokenBias: () => this.bias.current({ counts: this.counts, suppressStops: this.belowMinTokens }) } : {}),
      ...(repeatPenalty ? { repeatPenalty } : {}),
      ...(this.grammarState ? { grammarEvaluationState: this.grammarState } : {}),
    }
  }

  private get belowMinTokens(): boolean {
    return this.generated.length < this.plan.request.stop.minTokens
  }

  private accept(token: Token): void {
    const { stop } = this.plan.request
    const ending = this.model.isEogToken(token) || this.plan.turnStopTokens.has(token)
    if (ending && !stop.ignoreEos) {
      this.pendingLogprobs = []
      this.finishFlushing('stop')
      return this.checkStructuredOutput()
    }
    this.unreportedTokens++
    this.generated.push(token)
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1)
    const text = this.decoder.push(token)
    if (stop.tokenIds.includes(token) && !this.belowMinTokens) {
      this.route(text, { final: true, matchStops: false })
      return this.finish('stop', token)
    }
    // Stop strings only count once min_tokens are out.
    if (this.route(text, { final: false, matchStops: this.generated.length > stop.minTokens })) return
    if (this.generated.length >= this.plan.maxTokens) this.finishFlushing('length')
  }

  /**
   * Sends decoded text on: a thinking model's reasoning out as `reasoning`, the content through the stop
   * matcher (stop strings apply to the answer, not the thoughts) to `emitText`. `final`: the text ended,
   * so whatever was held back is released. Returns true when a stop string ended the choice.
   */
  private route(text: string, { final, matchStops }: { final: boolean; matchStops: boolean }): boolean {
    let pieces: ReasoningPiece[] = [{ type: 'content', text }]
    if (this.splitter) {
      pieces = this.splitter.push(text)
      this.countReasoningToken()
      if (final) pieces.push(...this.splitter.finish())
    }
    for (const piece of pieces) {
      if (piece.type === 'reasoning') {
        this.emitReasoning(piece.text)
        continue
      }
      if (!matchStops) {
        this.emitText(this.stops.flush() + piece.text)
        continue
      }
      const match = this.stops.push(piece.text)
      if (match.stop !== undefined) {
        this.finishOnStop(match.emit, match.stop)
        return true
      }
      this.emitText(match.emit)
    }
    if (final) this.emitText(this.stops.flush())
    return false
  }

  /**
   * The token just routed was generated inside the thinking segment when the splitter was inside it at
   * any point while reading it (so both markers count); tokens read while it was undecided (leading
   * blanks, part of `<think>`) count once the segment turns out to open.
   */
  private countReasoningToken(): void {
    if (this.generated.length === this.countedUpTo) return
    this.countedUpTo = this.generated.length
    const splitter = this.splitter!
    if (splitter.undecided) {
      this.undecidedTokens++
      return
    }
    if (splitter.touchedReasoning) this.reasoningTokens += 1 + this.undecidedTokens
    this.undecidedTokens = 0
  }

  /** Ends without a stop string so far: what was held back can no longer become one, so it is real text. */
  private finishFlushing(reason: FinishReason): void {
    if (this.route(this.decoder.flush(), { final: true, matchStops: this.generated.length > this.plan.request.stop.minTokens })) return
    this.finish(reason, null)
  }

  private finishOnStop(before: string, stop: string): void {
    const requested = this.plan.request.stop.strings.includes(stop)
    this.emitText(requested && this.plan.request.stop.includeStopString ? before + stop : before)
    this.finish('stop', requested ? stop : null)
  }

  /** Thinking goes out as it comes, unless the request asked not to see it (its tokens still count). */
  private emitReasoning(text: string): void {
    if (!text || this.plan.request.reportReasoning === false) return
    this.textEmitted = true
    this.events.push({ type: 'reasoning', choice: this.choice, text, tokens: this.unreportedTokens })
    this.unreportedTokens = 0
  }

  private emitText(text: string): void {
    if (!text) return
    if (this.toolParser) return this.emitParsed(this.toolParser.push(text))
    const logprobs = this.plan.request.logprobs ? { logprobs: this.pendingLogprobs } : {}
    this.textEmitted = true
    if (this.plan.request.grammar?.schema) this.text += text
    this.events.push({ type: 'text', choice: this.choice, text, tokens: this.unreportedTokens, ...logprobs })
    this.unreportedTokens = 0
    this.pendingLogprobs = []
  }

  /**
   * Tool-call parser output as events: content as `text`, calls as `toolCallDelta`s (a call's first one
   * with its id and name and empty arguments, as OpenAI streams them). Tokens are reported with the
   * first event they produced; text the parser holds back keeps its tokens unreported until then.
   */
  private emitParsed(parsed: ToolParseEvent[]): void {
    for (const event of parsed) {
      const tokens = this.unreportedTokens
      this.unreportedTokens = 0
      this.textEmitted = true
      switch (event.type) {
        case 'content':
          this.events.push({ type: 'text', choice: this.choice, text: event.text, tokens })
          break
        case 'call':
          this.toolCalls.push({ name: event.name, arguments: '' })
          this.events.push({
            type: 'toolCallDelta',
            choice: this.choice,
            index: event.index,
            id: `call_${randomBytes(12).toString('hex')}`,
            name: event.name,
            argumentsDelta: '',
            tokens,
          })
          break
        case 'arguments':
          this.toolCalls[event.index]!.arguments += event.text
          this.events.push({ type: 'toolCallDelta', choice: this.choice, index: event.index, argumentsDelta: event.text, tokens })
      }
    }
  }

  /**
   * A structured output that ended naturally must validate; one cut by max_tokens or a stop string is
   * returned as it is (finish_reason says so), as OpenAI does. Tool-call arguments are checked against
   * their tool's schema the same way.
   */
  private checkStructuredOutput(): void {
    for (const call of this.toolCalls) {
      const tool = this.plan.request.tools?.definitions.find((t) => t.name === call.name)
      if (!tool) throw new EngineError(`The model called '${call.name}', which is not among the tools.`)
      const problem = validateJson(call.arguments, tool.parameters ? asObjectSchema(tool.parameters) : { type: 'object', maxProperties: 0 })
      if (problem) throw new EngineError(`The arguments of a '${call.name}' call do not validate against its parameters: ${problem}`)
    }
    const schema = this.plan.request.grammar?.schema
    if (!schema) return
    const problem = validateJson(this.text, schema)
    if (problem) throw new EngineError(`The constrained output does not validate against the schema: ${problem}`)
  }

  private finish(reason: FinishReason, stopReason: string | number | null): void {
    if (this.toolParser) {
      this.emitParsed(this.toolParser.finish())
      // OpenAI's finish_reason when the turn ended in calls; a cut-off (length) stays what it is.
      if (reason === 'stop' && this.toolParser.calls > 0) reason = 'tool_calls'
    }
    this.phase = { kind: 'done' }
    this.events.push({
      type: 'finished',
      choice: this.choice,
      reason,
      stopReason,
      usage: {
        promptTokens: this.plan.promptTokens.length,
        completionTokens: this.generated.length,
        cachedTokens: this.cachedTokens,
        ...(this.splitter ? { reasoningTokens: this.reasoningTokens } : {}),
      },
    })
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
