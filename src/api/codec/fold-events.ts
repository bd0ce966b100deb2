import { EngineError } from '../../errors.js'
import type { FinishReason, GenerationEvent, TokenLogprob, Usage } from '../../generation/events.js'

export interface FoldedToolCall {
  id: string
  name: string
  arguments: string
}

export interface FoldedChoice {
  text: string
  /** A thinking model's reasoning, concatenated (absent: none was reported). */
  reasoning?: string
  /** The calls the choice made, arguments concatenated from their deltas (absent or empty: none). */
  toolCalls?: FoldedToolCall[]
  finishReason: FinishReason
  stopReason: string | number | null
  logprobs: TokenLogprob[] | null
}

export interface FoldedGeneration {
  choices: FoldedChoice[]
  usage: Usage
}

/**
 * A non-streamed response is the streamed events folded, so the two can never drift apart.
 * A stream that ends before every choice finished is an engine fault, not a short answer.
 */
export async function foldEvents(events: AsyncIterable<GenerationEvent>): Promise<FoldedGeneration> {
  const texts: string[] = []
  const reasonings: Array<string | undefined> = []
  const logprobs: Array<TokenLogprob[] | null> = []
  const choices: FoldedChoice[] = []
  const calls: FoldedToolCall[][] = []
  const usage = new UsageTotals()
  let expected = 1
  for await (const event of events) {
    switch (event.type) {
      case 'started':
        expected = event.choices
        break
      case 'text':
        texts[event.choice] = (texts[event.choice] ?? '') + event.text
        if (event.logprobs) logprobs[event.choice] = [...(logprobs[event.choice] ?? []), ...event.logprobs]
        break
      case 'reasoning':
        reasonings[event.choice] = (reasonings[event.choice] ?? '') + event.text
        break
      case 'toolCallDelta': {
        const list = (calls[event.choice] ??= [])
        if (event.name !== undefined) list[event.index] = { id: event.id ?? '', name: event.name, arguments: '' }
        list[event.index]!.arguments += event.argumentsDelta
        break
      }
      case 'finished':
        usage.add(event.usage)
        choices[event.choice] = {
          text: texts[event.choice] ?? '',
          ...(reasonings[event.choice] !== undefined ? { reasoning: reasonings[event.choice] } : {}),
          ...(calls[event.choice]?.length ? { toolCalls: calls[event.choice] } : {}),
          finishReason: event.reason,
          stopReason: event.stopReason,
          logprobs: logprobs[event.choice] ?? null,
        }
        if (usage.finishedChoices === expected) return { choices, usage: usage.total() }
    }
  }
  throw new EngineError('Generation ended before every choice finished.')
}

/** Sums the choices' usage: the prompt is evaluated (and cached) once for all of them. */
export class UsageTotals {
  finishedChoices = 0
  private promptTokens = 0
  private cachedTokens = 0
  private completionTokens = 0
  private reasoningTokens: number | undefined

  add(usage: Usage): void {
    if (usage.reasoningTokens !== undefined) this.reasoningTokens = (this.reasoningTokens ?? 0) + usage.reasoningTokens
    if (this.finishedChoices++ === 0) {
      this.promptTokens = usage.promptTokens
      this.cachedTokens = usage.cachedTokens
    }
    this.completionTokens += usage.completionTokens
  }

  total(): Usage {
    return {
      promptTokens: this.promptTokens,
      completionTokens: this.completionTokens,
      cachedTokens: this.cachedTokens,
      ...(this.reasoningTokens !== undefined ? { reasoningTokens: this.reasoningTokens } : {}),
    }
  }
}
