import type { GenerationInput, GenerationRequest } from '../../generation/request.js'
import type { GenerationEvent, PromptTokenLogprob, TokenAlternative, TokenLogprob } from '../../generation/events.js'
import { EngineError } from '../../errors.js'
import type { Completion, CompletionChunk, CompletionRequest, LegacyLogprobs } from '../schemas/completions.js'
import type { ResponseMeta } from './chat-response.js'
import { encodeUsage } from './chat-response.js'
import { UsageTotals } from './fold-events.js'
import { RunningUsage } from './stream-usage.js'
import { type ModelLimits, checkAgainstModel, decodeGenerationParams, refuseBesideConstrainedOutput } from './generation-params.js'

/** One completions request: a generation per prompt. */
export interface DecodedCompletion {
  requests: GenerationRequest[]
}

/** Wire completions request → one GenerationRequest per prompt (a batch answers with one choice per prompt × n). */
export function decodeCompletionRequest(body: CompletionRequest, model: string, limits: ModelLimits): DecodedCompletion {
  const params = decodeGenerationParams(body, limits)
  const top = body.logprobs === true ? 0 : typeof body.logprobs === 'number' ? body.logprobs : null
  const echo = body.echo ?? false
  const prompts = normalizePrompts(body.prompt)
  const suffix = body.suffix ?? null
  const requests = prompts.map((prompt): GenerationRequest => {
    const input: GenerationInput =
      typeof prompt !== 'string'
        ? { kind: 'tokens', tokens: prompt }
        : suffix !== null
          ? { kind: 'infill', prefix: prompt, suffix }
          : { kind: 'text', text: prompt }
    return {
      ...params,
      model,
      input,
      logprobs: top === null ? null : { top },
      promptLogprobs: echo && top !== null ? { top } : null,
      echo,
    }
  })
  for (const request of requests) checkAgainstModel(request, limits)
  if (requests[0]) refuseBesideConstrainedOutput(requests[0])
  return { requests }
}

function normalizePrompts(prompt: CompletionRequest['prompt']): Array<string | number[]> {
  if (typeof prompt === 'string') return [prompt]
  if (prompt.every((p): p is number => typeof p === 'number')) return [prompt]
  return prompt as Array<string | number[]>
}

/**
 * The state of one prompt's choices while its events arrive: the text of each choice (echo included)
 * and its legacy logprobs (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`).
 */
class PromptChoices {
  readonly usage = new UsageTotals()
  choices = 1

  constructor(private readonly withLogprobs: boolean) {}

  /**
   * Text and logprobs to prepend to every choice, from the `prompt` event: the prompt as sent, its
   * tokens' texts joining to it (the engine aligns them, see echoPrompt).
   */
  onPrompt(event: Extract<GenerationEvent, { type: 'prompt' }>): { text: string; logprobs: LegacyLogprobs | null } {
    return { text: event.text, logprobs: event.logprobs ? legacyLogprobs(event.logprobs, 0) : null }
  }

  /** Legacy logprobs of generated tokens, offset after what the choice already holds. */
  generated(logprobs: readonly TokenLogprob[] | undefined, offset: number): LegacyLogprobs | null {
    if (!this.withLogprobs) return null
    return legacyLogprobs(logprobs ?? [], offset)
  }
}

function legacyLogprobs(entries: ReadonlyArray<PromptTokenLogprob | TokenLogprob>, startOffset: number): LegacyLogprobs {
  const out: LegacyLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] }
  let offset = startOffset
  for (const entry of entries) {
    out.tokens.push(entry.token)
    out.token_logprobs.push(entry.logprob)
    out.top_logprobs.push(entry.top === null ? null : Object.fromEntries(entry.top.map((t: TokenAlternative) => [t.token, t.logprob])))
    out.text_offset.push(offset)
    offset += entry.token.length
  }
  return out
}

function concatLogprobs(a: LegacyLogprobs | null, b: LegacyLogprobs | null): LegacyLogprobs | null {
  if (!a) return b
  if (!b) return a
  return {
    tokens: [...a.tokens, ...b.tokens],
    token_logprobs: [...a.token_logprobs, ...b.token_logprobs],
    top_logprobs: [...a.top_logprobs, ...b.top_logprobs],
    text_offset: [...a.text_offset, ...b.text_offset],
  }
}

/**
 * Events of every prompt → `text_completion` chunks. Choice indexes are prompt × n + choice, as OpenAI
 * numbers a batch. Usage placement follows the chat endpoint's rules (see ChatChunkEncoder).
 */
export class CompletionChunkEncoder {
  private readonly prompts: PromptChoices[]
  private readonly lengths = new Map<number, number>()
  private readonly running: RunningUsage | null
  private finished = 0

  constructor(
    private readonly meta: ResponseMeta,
    private readonly decoded: DecodedCompletion,
    private readonly includeUsage: boolean,
    /** Every chunk carries the usage so far (`continuous_usage_stats`). Defaults to off. */
    continuousUsage = false,
  ) {
    this.prompts = decoded.requests.map((r) => new PromptChoices(r.logprobs !== null))
    this.running = continuousUsage ? new RunningUsage() : null
  }

  push(prompt: number, event: GenerationEvent): CompletionChunk[] {
    this.running?.observe(event, prompt)
    const state = this.prompts[prompt]!
    const n = this.decoded.requests[prompt]!.n
    switch (event.type) {
      case 'started':
        state.choices = event.choices
        return []
      case 'prompt': {
        const { text, logprobs } = state.onPrompt(event)
        return Array.from({ length: state.choices }, (_, c) => this.textChunk(prompt * n + c, text, logprobs))
      }
      case 'text': {
        const index = prompt * n + event.choice
        return [this.textChunk(index, event.text, state.generated(event.logprobs, this.lengths.get(index) ?? 0))]
      }
      case 'toolCallDelta':
      case 'reasoning':
        return [] // completions offer no tools, and raw prompts are not split into reasoning
      case 'finished': {
        state.usage.add(event.usage)
        this.finished++
        const index = prompt * n + event.choice
        const finishing = this.chunk({ index, text: '', logprobs: null, finish_reason: event.reason, stop_reason: event.stopReason })
        if (this.finished < this.totalChoices()) return [finishing]
        const usage = encodeUsage(sumUsage(this.prompts))
        if (!this.includeUsage) return [{ ...finishing, usage }]
        return [finishing, { ...this.base(), choices: [], usage }]
      }
    }
  }

  private totalChoices(): number {
    return this.decoded.requests.reduce((sum, r) => sum + r.n, 0)
  }

  private textChunk(index: number, text: string, logprobs: LegacyLogprobs | null): CompletionChunk {
    this.lengths.set(index, (this.lengths.get(index) ?? 0) + text.length)
    return this.chunk({ index, text, logprobs, finish_reason: null })
  }

  private base(): Omit<CompletionChunk, 'choices'> {
    return {
      id: this.meta.id,
      object: 'text_completion',
      created: this.meta.created,
      model: this.meta.model,
      system_fingerprint: this.meta.systemFingerprint,
      ...(this.running ? { usage: encodeUsage(this.running.total()) } : this.includeUsage ? { usage: null } : {}),
    }
  }

  private chunk(choice: CompletionChunk['choices'][number]): CompletionChunk {
    return { ...this.base(), choices: [choice] }
  }
}

function sumUsage(prompts: readonly PromptChoices[]) {
  const totals = prompts.map((p) => p.usage.total())
  return {
    promptTokens: totals.reduce((s, u) => s + u.promptTokens, 0),
    completionTokens: totals.reduce((s, u) => s + u.completionTokens, 0),
    cachedTokens: totals.reduce((s, u) => s + u.cachedTokens, 0),
  }
}

/**
 * The non-streamed body is the chunks folded, so the two cannot drift apart: every chunk's text and
 * logprobs are concatenated per choice index.
 */
export async function foldCompletion(
  events: AsyncIterable<[number, GenerationEvent]>,
  encoder: CompletionChunkEncoder,
  meta: ResponseMeta,
): Promise<Completion> {
  const choices = new Map<number, Completion['choices'][number]>()
  let usage: Completion['usage'] | null = null
  for await (const [prompt, event] of events) {
    for (const chunk of encoder.push(prompt, event)) {
      if (chunk.usage) usage = chunk.usage
      for (const c of chunk.choices) {
        const acc = choices.get(c.index) ?? { index: c.index, text: '', logprobs: null, finish_reason: null, stop_reason: null }
        acc.text += c.text
        acc.logprobs = concatLogprobs(acc.logprobs, c.logprobs)
        if (c.finish_reason !== null) {
          acc.finish_reason = c.finish_reason
          acc.stop_reason = c.stop_reason ?? null
        }
        choices.set(c.index, acc)
      }
    }
  }
  if (!usage) throw new EngineError('Generation ended before every choice finished.')
  return {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.systemFingerprint,
    choices: [...choices.values()].sort((a, b) => a.index - b.index),
    usage,
  }
}
