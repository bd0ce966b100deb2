import { randomBytes } from 'node:crypto'
import { EngineError } from '../errors.js'
import type { FinishReason, GenerationEvent, TokenLogprob } from '../generation/events.js'
import type { GenerationRequest } from '../generation/request.js'
import { validateJson } from '../constraints/json-validator.js'
import { ReasoningSplitter, type ReasoningPiece } from './reasoning-splitter.js'
import { StopMatcher } from './stop-matcher.js'
import { TokenTextDecoder } from './token-text-decoder.js'
import type { ToolCallFormat } from './tool-call-formats.js'
import { asObjectSchema } from '../constraints/tool-call-grammar.js'
import { ToolCallParser, type ToolParseEvent } from './tool-call-parser.js'

/** What the pipeline needs besides the request: the model's tokenizer facts and the plan's limits. */
export interface OutputSetup {
  request: Pick<GenerationRequest, 'stop' | 'grammar' | 'tools' | 'logprobs' | 'reportReasoning' | 'skipSpecialTokens'>
  choice: number
  promptTokens: readonly number[]
  cachedTokens: number
  /** Completion tokens allowed (the plan's, clamped to the free context). */
  maxTokens: number
  /** Text of `tokens` (special tokens kept when asked), `context` being the tokens before them. */
  detokenize: (tokens: readonly number[], keepSpecial: boolean, context: readonly number[]) => string
  /** End-of-generation tokens of the model (EOS, EOT, …). */
  isEndToken: (token: number) => boolean
  /** The chat format's turn terminators: they end generation like EOS and are never a stop_reason. */
  turnStopTokens: ReadonlySet<number>
  turnStopTexts: readonly string[]
  /** Tool calls are read in this format; null = the output is only text. */
  toolFormat: ToolCallFormat | null
  /** A thinking model's output is split into reasoning and content; null = plain. */
  reasoning: { startsInside: boolean } | null | undefined
}

/**
 * Turns one choice's sampled tokens into GenerationEvents, with no engine in sight (pure, unit-tested):
 * detokenise (UTF-8 held back until whole) → reasoning split → stop strings and stop tokens (held back
 * while they could still match) → tool-call parsing → `text` / `reasoning` / `toolCallDelta` events, and
 * one `finished` with usage; a structured output that ended naturally is validated against its schema.
 */
export class OutputPipeline {
  /** Completion tokens so far (thinking included). */
  private generated = 0
  private events: GenerationEvent[] = []
  private done = false
  private textEmitted = false
  private unreportedTokens = 0
  private pendingLogprobs: TokenLogprob[] = []
  private readonly decoder: TokenTextDecoder
  private readonly stops: StopMatcher
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
  /** generated when the last token was classified (flushes route text without a new token). */
  private countedUpTo = 0

  constructor(private readonly setup: OutputSetup) {
    const { request } = setup
    this.decoder = new TokenTextDecoder((tokens, context) => setup.detokenize(tokens, !request.skipSpecialTokens, context), setup.promptTokens)
    this.stops = new StopMatcher([...request.stop.strings, ...setup.turnStopTexts])
    this.toolParser = setup.toolFormat ? new ToolCallParser(setup.toolFormat) : null
    this.splitter = setup.reasoning ? new ReasoningSplitter(setup.reasoning.startsInside) : null
  }

  /** Completion tokens so far (end-of-generation tokens not counted). */
  get completionTokens(): number {
    return this.generated
  }

  get finished(): boolean {
    return this.done
  }

  /** Where a thinking model's output is: inside its thinking segment, and the tokens that segment has used. */
  get thinking(): { inside: boolean; tokens: number } {
    return { inside: this.splitter?.inReasoning ?? false, tokens: this.reasoningTokens }
  }

  /** Some output (text, reasoning or a call) went out. */
  get emitted(): boolean {
    return this.textEmitted
  }

  /** Events produced since the last call. */
  take(): GenerationEvent[] {
    const events = this.events
    this.events = []
    return events
  }

  /** One sampled token (and its logprob, when asked for). May finish the choice. */
  push(token: number, logprob?: TokenLogprob): void {
    if (this.done) return
    if (logprob) this.pendingLogprobs.push(logprob)
    const { stop } = this.setup.request
    const ending = this.setup.isEndToken(token) || this.setup.turnStopTokens.has(token)
    if (ending && !stop.ignoreEos) {
      this.pendingLogprobs = []
      this.end('stop')
      return this.checkStructuredOutput()
    }
    this.unreportedTokens++
    this.generated++
    if (stop.tokenIds.includes(token) && !this.belowMinTokens) {
      // vLLM: the stop token counts and has its logprob, but its text is left out unless include_stop_str_in_output.
      const text = stop.includeStopString ? this.decoder.push(token) + this.decoder.flush() : this.decoder.flush()
      this.route(text, { final: true, matchStops: false })
      this.emitPendingLogprobs()
      return this.finish('stop', token)
    }
    const text = this.decoder.push(token)
    // Stop strings only count once min_tokens are out.
    if (this.route(text, { final: false, matchStops: this.generated > stop.minTokens })) return
    if (this.generated >= this.setup.maxTokens) this.end('length')
  }

  /** Ends without a stop string so far: what was held back can no longer become one, so it is real text. */
  end(reason: FinishReason): void {
    if (this.done) return
    if (this.route(this.decoder.flush(), { final: true, matchStops: this.generated > this.setup.request.stop.minTokens })) return
    this.finish(reason, null)
  }

  private get belowMinTokens(): boolean {
    return this.generated < this.setup.request.stop.minTokens
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
    if (this.generated === this.countedUpTo) return
    this.countedUpTo = this.generated
    const splitter = this.splitter!
    if (splitter.undecided) {
      this.undecidedTokens++
      return
    }
    if (splitter.touchedReasoning) this.reasoningTokens += 1 + this.undecidedTokens
    this.undecidedTokens = 0
  }

  private finishOnStop(before: string, stop: string): void {
    const { strings, includeStopString } = this.setup.request.stop
    const requested = strings.includes(stop)
    this.emitText(requested && includeStopString ? before + stop : before)
    this.finish('stop', requested ? stop : null)
  }

  /** Thinking goes out as it comes, unless the request asked not to see it (its tokens still count). */
  private emitReasoning(text: string): void {
    if (!text || this.setup.request.reportReasoning === false) return
    this.textEmitted = true
    this.events.push({ type: 'reasoning', choice: this.setup.choice, text, tokens: this.unreportedTokens })
    this.unreportedTokens = 0
  }

  private emitText(text: string): void {
    if (!text) return
    if (this.toolParser) return this.emitParsed(this.toolParser.push(text))
    const { request, choice } = this.setup
    const logprobs = request.logprobs ? { logprobs: this.pendingLogprobs } : {}
    this.textEmitted = true
    if (request.grammar?.schema) this.text += text
    this.events.push({ type: 'text', choice, text, tokens: this.unreportedTokens, ...logprobs })
    this.unreportedTokens = 0
    this.pendingLogprobs = []
  }

  /** Logprobs of tokens whose text was left out (a stop token's), on an empty text event. */
  private emitPendingLogprobs(): void {
    if (!this.setup.request.logprobs || this.pendingLogprobs.length === 0 || this.toolParser) return
    this.events.push({ type: 'text', choice: this.setup.choice, text: '', tokens: this.unreportedTokens, logprobs: this.pendingLogprobs })
    this.unreportedTokens = 0
    this.pendingLogprobs = []
  }

  /**
   * Tool-call parser output as events: content as `text`, calls as `toolCallDelta`s (a call's first one
   * with its id and name and empty arguments, as OpenAI streams them). Tokens are reported with the
   * first event they produced; text the parser holds back keeps its tokens unreported until then.
   */
  private emitParsed(parsed: ToolParseEvent[]): void {
    const { choice } = this.setup
    for (const event of parsed) {
      const tokens = this.unreportedTokens
      this.unreportedTokens = 0
      this.textEmitted = true
      switch (event.type) {
        case 'content':
          this.events.push({ type: 'text', choice, text: event.text, tokens })
          break
        case 'call':
          this.toolCalls.push({ name: event.name, arguments: '' })
          this.events.push({
            type: 'toolCallDelta',
            choice,
            index: event.index,
            id: `call_${randomBytes(12).toString('hex')}`,
            name: event.name,
            argumentsDelta: '',
            tokens,
          })
          break
        case 'arguments':
          this.toolCalls[event.index]!.arguments += event.text
          this.events.push({ type: 'toolCallDelta', choice, index: event.index, argumentsDelta: event.text, tokens })
      }
    }
  }

  /**
   * A structured output that ended naturally must validate; one cut by max_tokens or a stop string is
   * returned as it is (finish_reason says so), as OpenAI does. Tool-call arguments are checked against
   * their tool's schema the same way.
   */
  private checkStructuredOutput(): void {
    const { request } = this.setup
    for (const call of this.toolCalls) {
      const tool = request.tools?.definitions.find((t) => t.name === call.name)
      if (!tool) throw new EngineError(`The model called '${call.name}', which is not among the tools.`)
      const problem = validateJson(call.arguments, tool.parameters ? asObjectSchema(tool.parameters) : { type: 'object', maxProperties: 0 })
      if (problem) throw new EngineError(`The arguments of a '${call.name}' call do not validate against its parameters: ${problem}`)
    }
    const schema = request.grammar?.schema
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
    this.done = true
    this.events.push({
      type: 'finished',
      choice: this.setup.choice,
      reason,
      stopReason,
      usage: {
        promptTokens: this.setup.promptTokens.length,
        completionTokens: this.generated,
        cachedTokens: this.setup.cachedTokens,
        ...(this.splitter ? { reasoningTokens: this.reasoningTokens } : {}),
      },
    })
  }
}
