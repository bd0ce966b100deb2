import type { GenerationEvent, Usage } from '../../generation/events.js'

/** How a chat or completions stream reports usage (api-surface §6.7), decoded from `stream_options`. */
export interface StreamUsage {
  /**
   * One trailing `choices: []` chunk carries the usage and every other chunk has `usage: null` (OpenAI);
   * otherwise the last finishing chunk carries it.
   */
  includeUsage: boolean
  /** Every chunk carries the running totals so far (vLLM's `continuous_usage_stats`). */
  continuousUsage: boolean
}

interface StreamOptionsWire {
  stream?: boolean | null
  stream_options?: { include_usage?: boolean | null; continuous_usage_stats?: boolean | null } | null
}

/**
 * `stream_options` of a request; ignored unless it streams. An object sent without `include_usage` (`{}`) means
 * true, as in vLLM and Baseten; OpenAI reads it as false, but its SDKs only send the object with the key set.
 */
export function decodeStreamUsage({ stream, stream_options: options }: StreamOptionsWire): StreamUsage {
  if (stream !== true || options == null) return { includeUsage: false, continuousUsage: false }
  return { includeUsage: options.include_usage !== false, continuousUsage: options.continuous_usage_stats === true }
}

/**
 * A stream's usage so far: the prompts that started, and each choice's completion tokens as they stream (the
 * engine's exact count once the choice finished). Choices are keyed by prompt (of a completions batch; 0 for
 * chat) and choice index; the prompt counts once per prompt, not per choice, as in the final usage.
 */
export class RunningUsage {
  private readonly prompts = new Map<number, { promptTokens: number; cachedTokens: number }>()
  private readonly choices = new Map<string, { tokens: number; reasoningTokens: number }>()

  observe(event: GenerationEvent, prompt = 0): void {
    switch (event.type) {
      case 'started':
        this.prompts.set(prompt, { promptTokens: event.promptTokens, cachedTokens: event.cachedTokens })
        return
      case 'text':
      case 'toolCallDelta':
        this.add(prompt, event.choice, event.tokens, 0)
        return
      case 'reasoning':
        this.add(prompt, event.choice, event.tokens, event.tokens)
        return
      case 'finished':
        this.choices.set(`${prompt}:${event.choice}`, { tokens: event.usage.completionTokens, reasoningTokens: event.usage.reasoningTokens ?? 0 })
        return
      case 'prompt':
        return
    }
  }

  total(): Usage {
    const prompts = [...this.prompts.values()]
    const choices = [...this.choices.values()]
    const reasoningTokens = choices.reduce((sum, c) => sum + c.reasoningTokens, 0)
    return {
      promptTokens: prompts.reduce((sum, p) => sum + p.promptTokens, 0),
      completionTokens: choices.reduce((sum, c) => sum + c.tokens, 0),
      cachedTokens: prompts.reduce((sum, p) => sum + p.cachedTokens, 0),
      ...(reasoningTokens > 0 ? { reasoningTokens } : {}),
    }
  }

  private add(prompt: number, choice: number, tokens: number, reasoningTokens: number): void {
    const key = `${prompt}:${choice}`
    const so = this.choices.get(key) ?? { tokens: 0, reasoningTokens: 0 }
    this.choices.set(key, { tokens: so.tokens + tokens, reasoningTokens: so.reasoningTokens + reasoningTokens })
  }
}
