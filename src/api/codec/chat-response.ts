import { randomBytes } from 'node:crypto'
import type { FinishReason, GenerationEvent, TokenLogprob, Usage } from '../../generation/events.js'
import type { ChatCompletion, ChatCompletionChunk, ChoiceLogprobs } from '../schemas/chat.js'
import { UsageTotals, type FoldedChoice, type FoldedGeneration } from './fold-events.js'
import { RunningUsage } from './stream-usage.js'

/** What every body or chunk of one response shares. */
export interface ResponseMeta {
  id: string
  created: number
  model: string
  systemFingerprint: string
  /** The request used the legacy `functions`: its call comes back as `function_call`, as OpenAI answers it. */
  legacyFunctions?: boolean
  /** Chat `echo`: text every choice's content starts with (see chatEcho). */
  echo?: string
}

/** How a chat answer is shaped by its request: the legacy `functions` form, and chat `echo`. */
export type ChatAnswerForm = Pick<ResponseMeta, 'legacyFunctions' | 'echo'>

export function newResponseMeta(prefix: 'chatcmpl' | 'cmpl', model: string, systemFingerprint: string, form: ChatAnswerForm = {}): ResponseMeta {
  return {
    id: `${prefix}-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model,
    systemFingerprint,
    ...form,
  }
}

/** The finish reason in the request's form: a legacy `functions` request finishes with `function_call`. */
function finishReason(reason: FinishReason, meta: ResponseMeta): FinishReason | 'function_call' {
  return meta.legacyFunctions && reason === 'tool_calls' ? 'function_call' : reason
}

/** Both detail objects are always sent: clients probe for `cached_tokens` once and treat absence as a miss. */
export function encodeUsage(usage: Usage): ChatCompletion['usage'] {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    // Every field OpenAI defines in them, 0 where this server has no such tokens (audio, predicted outputs).
    prompt_tokens_details: { cached_tokens: usage.cachedTokens, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }
}

export function encodeChatCompletion(folded: FoldedGeneration, meta: ResponseMeta): ChatCompletion {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.systemFingerprint,
    choices: folded.choices.map((choice, index) => ({
      index,
      message: encodeMessage(meta.echo ? { ...choice, text: meta.echo + choice.text } : choice, meta.legacyFunctions === true),
      logprobs: encodeLogprobs(choice.logprobs),
      finish_reason: finishReason(choice.finishReason, meta),
      stop_reason: choice.stopReason,
    })),
    usage: encodeUsage(folded.usage),
  }
}

/**
 * With calls, `content` is the text before the first call, or null when there was none (OpenAI's shape);
 * likewise null when a thinking model only thought (vLLM's shape). Reasoning goes under both names
 * clients read: `reasoning_content` (DeepSeek, llama-server) and `reasoning` (vLLM's newer name).
 */
function encodeMessage(choice: FoldedChoice, legacyFunctions: boolean): ChatCompletion['choices'][number]['message'] {
  const reasoning = choice.reasoning !== undefined ? { reasoning_content: choice.reasoning, reasoning: choice.reasoning } : {}
  const calls = choice.toolCalls ?? []
  if (calls.length === 0) return { role: 'assistant', content: choice.reasoning !== undefined ? choice.text || null : choice.text, refusal: null, ...reasoning }
  const head = { role: 'assistant' as const, content: choice.text || null, refusal: null, ...reasoning }
  // Legacy requests get at most one call (parallel calls are off for them).
  if (legacyFunctions) return { ...head, function_call: { name: calls[0]!.name, arguments: calls[0]!.arguments } }
  return { ...head, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
}

function encodeLogprobs(logprobs: readonly TokenLogprob[] | null | undefined): ChoiceLogprobs | null {
  if (!logprobs) return null
  return {
    content: logprobs.map((l) => ({
      token: l.token,
      logprob: l.logprob,
      bytes: l.bytes,
      top_logprobs: l.top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: t.bytes })),
    })),
    refusal: null,
  }
}

/**
 * Turns generation events into `chat.completion.chunk`s. Usage placement follows what each family of
 * clients reads: with `include_usage`, every chunk has `usage: null` and one trailing chunk with
 * `choices: []` carries it (OpenAI); without it, the last finishing chunk carries usage (DeepInfra-style
 * clients read it there) and no empty-choices chunk is sent (those clients index `choices[0]`).
 * With n > 1, choices interleave by `index`; usage counts all of them once every one has finished.
 */
export class ChatChunkEncoder {
  private readonly usage = new UsageTotals()
  private readonly running: RunningUsage | null
  private choices = 1

  constructor(
    private readonly meta: ResponseMeta,
    private readonly includeUsage: boolean,
    /** Every chunk carries the usage so far (`continuous_usage_stats`); the final usage is placed as above. Defaults to off. */
    continuousUsage = false,
  ) {
    this.running = continuousUsage ? new RunningUsage() : null
  }

  push(event: GenerationEvent): ChatCompletionChunk[] {
    this.running?.observe(event)
    switch (event.type) {
      case 'started':
        this.choices = event.choices
        return Array.from({ length: event.choices }, (_, index) => this.chunk(index, { role: 'assistant', content: this.meta.echo ?? '' }))
      case 'text':
        return [this.chunk(event.choice, { content: event.text }, { finish_reason: null }, event.logprobs)]
      case 'reasoning':
        return [this.chunk(event.choice, { reasoning_content: event.text, reasoning: event.text })]
      case 'toolCallDelta': {
        if (this.meta.legacyFunctions) {
          const call = event.name !== undefined ? { name: event.name, arguments: event.argumentsDelta } : { arguments: event.argumentsDelta }
          return [this.chunk(event.choice, { function_call: call })]
        }
        // OpenAI's shape: id, type and name once, with empty arguments; then only index and argument text.
        const call =
          event.name !== undefined
            ? { index: event.index, id: event.id, type: 'function' as const, function: { name: event.name, arguments: event.argumentsDelta } }
            : { index: event.index, function: { arguments: event.argumentsDelta } }
        return [this.chunk(event.choice, { tool_calls: [call] })]
      }
      case 'prompt':
        return [] // chat has no prompt logprobs
      case 'finished': {
        this.usage.add(event.usage)
        const finishing = this.chunk(event.choice, {}, { finish_reason: finishReason(event.reason, this.meta), stop_reason: event.stopReason })
        if (this.usage.finishedChoices < this.choices) return [finishing]
        const usage = encodeUsage(this.usage.total())
        if (!this.includeUsage) return [{ ...finishing, usage }]
        return [finishing, { ...this.base(), choices: [], usage }]
      }
    }
  }

  private base(): Omit<ChatCompletionChunk, 'choices'> {
    return {
      id: this.meta.id,
      object: 'chat.completion.chunk',
      created: this.meta.created,
      model: this.meta.model,
      system_fingerprint: this.meta.systemFingerprint,
      ...(this.running ? { usage: encodeUsage(this.running.total()) } : this.includeUsage ? { usage: null } : {}),
    }
  }

  private chunk(
    index: number,
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finish: Pick<ChatCompletionChunk['choices'][number], 'finish_reason' | 'stop_reason'> = { finish_reason: null },
    logprobs?: readonly TokenLogprob[],
  ): ChatCompletionChunk {
    return { ...this.base(), choices: [{ index, delta, logprobs: encodeLogprobs(logprobs), ...finish }] }
  }
}
