import { randomBytes } from 'node:crypto'
import type { GenerationEvent, Usage } from '../../engine/types.js'
import type { ChatCompletion, ChatCompletionChunk } from '../schemas/chat.js'
import type { FoldedGeneration } from './fold-events.js'

/** What every body or chunk of one response shares. */
export interface ResponseMeta {
  id: string
  created: number
  model: string
  systemFingerprint: string
}

export function newResponseMeta(prefix: 'chatcmpl' | 'cmpl', model: string, systemFingerprint: string): ResponseMeta {
  return {
    id: `${prefix}-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model,
    systemFingerprint,
  }
}

/** Both detail objects are always sent: clients probe for `cached_tokens` once and treat absence as a miss. */
export function encodeUsage(usage: Usage): ChatCompletion['usage'] {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  }
}

export function encodeChatCompletion(folded: FoldedGeneration, meta: ResponseMeta): ChatCompletion {
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    system_fingerprint: meta.systemFingerprint,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: folded.text, refusal: null },
        logprobs: null,
        finish_reason: folded.finishReason,
        stop_reason: folded.stopReason,
      },
    ],
    usage: encodeUsage(folded.usage),
  }
}

/**
 * Turns generation events into `chat.completion.chunk`s. Usage placement follows what each family of
 * clients reads: with `include_usage`, every chunk has `usage: null` and one trailing chunk with
 * `choices: []` carries it (OpenAI); without it, the finishing chunk carries usage (DeepInfra-style
 * clients read it there) and no empty-choices chunk is sent (those clients index `choices[0]`).
 */
export class ChatChunkEncoder {
  constructor(
    private readonly meta: ResponseMeta,
    private readonly includeUsage: boolean,
  ) {}

  push(event: GenerationEvent): ChatCompletionChunk[] {
    switch (event.type) {
      case 'started':
        return [this.chunk({ role: 'assistant', content: '' })]
      case 'text':
        return [this.chunk({ content: event.text })]
      case 'finished': {
        const usage = encodeUsage(event.usage)
        const finishing = this.chunk({}, { finish_reason: event.reason, stop_reason: event.stopReason })
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
      ...(this.includeUsage ? { usage: null } : {}),
    }
  }

  private chunk(
    delta: ChatCompletionChunk['choices'][number]['delta'],
    finish: Pick<ChatCompletionChunk['choices'][number], 'finish_reason' | 'stop_reason'> = { finish_reason: null },
  ): ChatCompletionChunk {
    return { ...this.base(), choices: [{ index: 0, delta, logprobs: null, ...finish }] }
  }
}
