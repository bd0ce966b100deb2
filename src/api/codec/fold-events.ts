import { EngineError } from '../../errors.js'
import type { FinishReason, GenerationEvent, Usage } from '../../engine/types.js'

export interface FoldedGeneration {
  text: string
  finishReason: FinishReason
  stopReason: string | number | null
  usage: Usage
}

/**
 * A non-streamed response is the streamed events folded, so the two can never drift apart.
 * A stream that ends without `finished` is an engine fault, not a short answer.
 */
export async function foldEvents(events: AsyncIterable<GenerationEvent>): Promise<FoldedGeneration> {
  let text = ''
  for await (const event of events) {
    if (event.type === 'text') text += event.text
    else if (event.type === 'finished') {
      return { text, finishReason: event.reason, stopReason: event.stopReason, usage: event.usage }
    }
  }
  throw new EngineError('Generation ended without finishing.')
}
