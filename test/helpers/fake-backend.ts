import type { ModelBackend, ModelDefaults, ModelDescription, SubmitOptions } from '../../src/generation/backend.js'
import type { EmbeddingRequest, EmbeddingResult } from '../../src/generation/embedding.js'
import type { GenerationEvent } from '../../src/generation/events.js'
import type { GenerationRequest } from '../../src/generation/request.js'
import type { DetokenizeRequest, TokenizeRequest, TokenizeResult } from '../../src/generation/tokenizing.js'
import { ModelNotFoundError } from '../../src/errors.js'

/** What a scripted generation does: its events in order, then optionally a failure (thrown after them). */
export interface Script {
  events: GenerationEvent[]
  /** Thrown by `submit` itself (admission errors) instead of streaming. */
  refuse?: Error
  /** Thrown after the events (a failure mid-stream). */
  fail?: Error
  /** Never ends after the events: waits for the request's cancellation. */
  hang?: boolean
}

export const FAKE_MODEL = 'fake-model'

/** A text generation of `pieces`, one token each, finishing with `reason`. */
export function textScript(pieces: string[], reason: 'stop' | 'length' = 'stop'): Script {
  return {
    events: [
      { type: 'started', promptTokens: 3, cachedTokens: 1, choices: 1 },
      ...pieces.map((text): GenerationEvent => ({ type: 'text', choice: 0, text, tokens: 1 })),
      { type: 'finished', choice: 0, reason, stopReason: null, usage: { promptTokens: 3, completionTokens: pieces.length, cachedTokens: 1 } },
    ],
  }
}

/**
 * A ModelBackend without a model: generations replay a script, embeddings and tokens are computed from
 * the text, and every call and its AbortSignal is recorded for the test to inspect.
 */
export class FakeBackend implements ModelBackend {
  ready = true
  script: Script = textScript(['Hello', ' world'])
  /** Thrown by embed/tokenize/detokenize when set. */
  workError: Error | null = null
  /** Embed waits for its signal to fire instead of answering. */
  hangWork = false
  readonly submitted: GenerationRequest[] = []
  readonly signals: AbortSignal[] = []
  readonly embedded: EmbeddingRequest[] = []

  describe(): ModelDescription[] {
    return [
      {
        id: FAKE_MODEL,
        aliases: ['fake-alias'],
        state: 'ready',
        contextSize: 512,
        created: 1700000000,
        slotsTotal: 2,
        slotsBusy: 1,
        queue: 3,
        kvCacheTokens: 10,
        loaded: null,
      },
    ]
  }

  find(name: string): ModelDescription | null {
    return this.describe().find((m) => m.id === name || m.aliases.includes(name)) ?? null
  }

  async defaults(model: string | null | undefined): Promise<ModelDefaults> {
    if (model && model !== FAKE_MODEL && model !== 'fake-alias') throw new ModelNotFoundError(model, [FAKE_MODEL])
    return { id: FAKE_MODEL, fingerprint: 'fp_fake', maxChoices: 4, parallel: 2, vocabularySize: 1000, maxFanOut: 16, embeddingSize: 4, defaults: { maxTokens: 16 }, trustRequestChatTemplate: false }
  }

  submit(request: GenerationRequest, options: SubmitOptions = {}): AsyncIterable<GenerationEvent> {
    this.submitted.push(request)
    if (options.signal) this.signals.push(options.signal)
    const script = this.script
    if (script.refuse) throw script.refuse
    return replay(script, options.signal)
  }

  async embed(request: EmbeddingRequest, options: SubmitOptions = {}): Promise<EmbeddingResult> {
    this.embedded.push(request)
    if (options.signal) this.signals.push(options.signal)
    if (this.workError) throw this.workError
    if (this.hangWork) await aborted(options.signal)
    const size = request.dimensions ?? 4
    return {
      vectors: request.inputs.map((input) => Float32Array.from({ length: size }, (_, i) => (i === input.length % size ? 1 : 0))),
      promptTokens: request.inputs.reduce((sum, input) => sum + input.length, 0),
    }
  }

  async tokenize(request: TokenizeRequest): Promise<TokenizeResult> {
    if (this.workError) throw this.workError
    const text = request.input.kind === 'text' ? request.input.text : request.input.messages.map((m) => m.content).join('')
    const tokens = [...text].map((c) => c.codePointAt(0)!)
    return { tokens, pieces: request.withPieces ? [...text] : null, contextSize: 512 }
  }

  async detokenize(request: DetokenizeRequest): Promise<string> {
    if (this.workError) throw this.workError
    return String.fromCodePoint(...request.tokens)
  }
}

async function* replay(script: Script, signal: AbortSignal | undefined): AsyncGenerator<GenerationEvent> {
  for (const event of script.events) {
    await new Promise((resolve) => setImmediate(resolve))
    yield event
  }
  if (script.fail) throw script.fail
  if (script.hang) await aborted(signal)
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal || signal.aborted) return resolve()
    signal.addEventListener('abort', () => resolve(), { once: true })
  })
}
