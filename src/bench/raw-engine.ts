/**
 * The engine ceiling of `gguf-serve bench`: the same workload run in-process on node-llama-cpp, with
 * nothing of ours between the requests and the context: no HTTP, no scheduler, no detokenizing. One
 * context of `parallel` sequences; every step advances all running sequences together (one llama.cpp
 * batch), and a request joins at the next step with its whole prompt, which the library splits only above
 * `batchSize`. Prompts are rendered with the model's chat template by the server's own renderer (so they
 * are the very tokens the server evaluates), before the level starts: template and tokenizer time count as
 * server overhead, not engine time.
 */
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp'
import { createLlamaRuntime } from '../engine/llama-runtime.js'
import { PromptRenderer } from '../engine/prompt-renderer.js'
import { createLogger } from '../observability/logger.js'
import type { BenchTarget, EngineSettings, LevelPlan, LevelRun, RequestResult, TargetInfo } from './target.js'

/** `topK: null` drops the top-k sampler, as the server does for a request without top_k. */
const NO_TOP_K = null as unknown as number

interface Running {
  sequence: LlamaContextSequence
  tokens: AsyncGenerator<Token, void, Token | Token[] | undefined>
  startMs: number
  tokenTimesMs: number[]
  want: number
  promptTokens: number
}

export class RawEngineTarget implements BenchTarget {
  readonly kind = 'engine'

  private constructor(
    readonly name: string,
    private readonly settings: EngineSettings,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly sequences: LlamaContextSequence[],
    private readonly renderer: PromptRenderer,
  ) {}

  /** Loads the model with the server's runtime settings (prebuilt binary, threads capped at the usable CPUs). */
  static async open(name: string, settings: EngineSettings): Promise<RawEngineTarget> {
    const llama = await createLlamaRuntime('auto', createLogger('warn'))
    const model = await llama.loadModel({ modelPath: settings.modelPath })
    const contextSize = Math.min(settings.contextSize, model.trainContextSize)
    const context = await model.createContext({ contextSize, sequences: settings.parallel, batchSize: settings.batchSize, threads: settings.threads })
    const sequences = Array.from({ length: settings.parallel }, () => context.getSequence())
    return new RawEngineTarget(name, { ...settings, contextSize }, model, context, sequences, new PromptRenderer(model))
  }

  /** The chat-rendered prompt tokens of each request, as the server evaluates them. */
  private promptTokens(plan: LevelPlan): Token[][] {
    return plan.requests.map((r) => this.renderer.render([{ role: 'user', content: r.prompt }]).tokens)
  }

  async run(plan: LevelPlan, onResult: (result: RequestResult) => void): Promise<LevelRun> {
    const prompts = this.promptTokens(plan)
    const { level } = plan
    const free = [...this.sequences]
    const running: Running[] = []
    const results: RequestResult[] = []
    let next = 0
    const started = performance.now()
    // When each request is sent: rate levels, its arrival; concurrency levels, the moment one of the level's
    // clients is free (its previous request ended). With more clients than sequences a sent request waits for
    // a sequence, and that wait counts in its TTFT, as a server's queue time does.
    const sentAt = plan.arrivalsMs ? plan.arrivalsMs.map((ms) => started + ms) : []
    const clients = level.kind === 'concurrency' ? level.concurrency : Infinity

    while (next < prompts.length || running.length > 0) {
      while (!plan.arrivalsMs && sentAt.length < prompts.length && sentAt.length - results.length < clients) sentAt.push(performance.now())
      while (next < prompts.length && free.length > 0 && sentAt[next]! <= performance.now()) {
        const request = plan.requests[next]!
        // The lowest free sequence (context.getSequence() hands out ids in order), and (below) steps in
        // sequence order: llama.cpp decodes adjacent sequences in ascending batch order in one pass over the
        // weights, as the server's scheduler arranges.
        const sequence = free.sort((a, b) => this.sequences.indexOf(a) - this.sequences.indexOf(b)).shift()!
        await sequence.clearHistory()
        running.push({
          sequence,
          tokens: sequence.evaluate(prompts[next]!, { temperature: request.temperature, topK: NO_TOP_K, topP: 1, minP: 0, seed: request.seed >>> 0, yieldEogToken: true }),
          startMs: sentAt[next]!,
          tokenTimesMs: [],
          want: request.outputTokens,
          promptTokens: prompts[next]!.length,
        })
        next++
      }
      if (running.length === 0) {
        // Rate level, nothing running: wait for the next arrival.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, sentAt[next]! - performance.now())))
        continue
      }
      // One step: every running sequence's next token in one batch.
      running.sort((a, b) => this.sequences.indexOf(a.sequence) - this.sequences.indexOf(b.sequence))
      await Promise.all(
        running.map(async (r) => {
          const step = await r.tokens.next()
          if (!step.done) r.tokenTimesMs.push(performance.now())
          else r.want = r.tokenTimesMs.length // the sequence ran out of context
        }),
      )
      for (const r of running.filter((r) => r.tokenTimesMs.length >= r.want)) {
        await r.tokens.return()
        running.splice(running.indexOf(r), 1)
        free.push(r.sequence)
        const n = r.tokenTimesMs.length
        const result: RequestResult = {
          ok: true,
          timing: { startMs: r.startMs, chunkTimesMs: r.tokenTimesMs, endMs: r.tokenTimesMs.at(-1) ?? performance.now(), outputTokens: n },
          contentChunks: n,
          promptTokens: r.promptTokens,
          usageCompletionTokens: n,
        }
        results.push(result)
        onResult(result)
      }
    }
    return { results, durationMs: performance.now() - started }
  }

  info(): TargetInfo {
    return { kind: 'engine', ...this.settings }
  }

  async close(): Promise<void> {
    await this.context.dispose()
    await this.model.dispose()
  }
}
