import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** What the gauges read when Prometheus scrapes: the live state of one model's scheduler. */
export interface ModelLoad {
  model: string
  running: number
  waiting: number
  slotsBusy: number
  slotsTotal: number
  kvCacheTokens: number
}

export type RequestOutcome = 'stop' | 'length' | 'tool_calls' | 'cancelled' | 'error' | 'timeout'

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]
const TOKEN_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 512, 1024, 2048, 4096, 8192, 16384, 32768]

/**
 * The Prometheus registry of the server (prom-client). Values are measured once, in the scheduler and
 * engine, and recorded here; gauges are read from the schedulers at scrape time. Every series has a
 * `model` label.
 */
export class ServeMetrics {
  readonly registry = new Registry()
  private readonly loads: Array<() => ModelLoad> = []

  readonly timeToFirstToken = this.histogram('time_to_first_token_seconds', 'Arrival to first generated text.', LATENCY_BUCKETS)
  readonly interTokenLatency = this.histogram('inter_token_latency_seconds', 'Time between two generated tokens of one choice.', LATENCY_BUCKETS)
  readonly endToEndLatency = this.histogram('e2e_request_latency_seconds', 'Arrival to the end of a request.', LATENCY_BUCKETS)
  readonly queueTime = this.histogram('queue_time_seconds', 'Arrival to admission onto a slot.', LATENCY_BUCKETS)
  readonly promptTokens = this.histogram('request_prompt_tokens', 'Prompt tokens per request.', TOKEN_BUCKETS)
  readonly completionTokens = this.histogram('request_completion_tokens', 'Completion tokens per request (all choices).', TOKEN_BUCKETS)
  readonly batchTokens = this.histogram('engine_batch_tokens', 'Tokens in each llama.cpp batch the engine decoded.', TOKEN_BUCKETS)
  // One pass per llama.cpp micro-batch: slots in ascending, adjacent order share one (engine/batch-passes.ts).
  readonly batchPasses = this.histogram('engine_batch_passes', 'Passes over the weights llama.cpp made for each batch.', [1, 2, 3, 4, 6, 8, 12, 16, 32])

  readonly requests = new Counter({
    name: 'gguf_serve_requests_total',
    help: 'Finished generation requests by outcome (finish reason of the last choice, cancelled, error, timeout).',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly workRequests = new Counter({
    name: 'gguf_serve_work_requests_total',
    help: 'Finished requests that are not generations (embed, tokenize, detokenize) by outcome: ok, error, cancelled, timeout, rejected (queue full).',
    labelNames: ['model', 'kind', 'outcome'] as const,
    registers: [this.registry],
  })
  readonly workLatency = new Histogram({
    name: 'gguf_serve_work_latency_seconds',
    help: 'Arrival to the end of an embed, tokenize or detokenize request.',
    buckets: LATENCY_BUCKETS,
    labelNames: ['model', 'kind'] as const,
    registers: [this.registry],
  })
  readonly promptTokensEvaluated = this.counter('prompt_tokens_evaluated_total', 'Prompt tokens evaluated by the engine.')
  readonly promptTokensCached = this.counter('prompt_tokens_cached_total', 'Prompt tokens reused from the prefix cache instead of evaluated.')
  readonly generatedTokens = this.counter('generation_tokens_total', 'Tokens generated (all choices).')
  readonly queueRejections = this.counter('queue_rejections_total', 'Requests refused with 429 because the queue was full.')
  readonly cancellations = new Counter({
    name: 'gguf_serve_cancellations_total',
    help: 'Requests dropped because the client went away, by where they were.',
    labelNames: ['model', 'stage'] as const,
    registers: [this.registry],
  })
  readonly modelLoaded = new Gauge({
    name: 'gguf_serve_model_loaded',
    help: 'Whether the model is loaded (1) or not (0): loading, unloaded after its ttl, or evicted.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  })
  readonly modelLoads = this.counter('model_loads_total', 'Completed model loads (start, first request, or again after an unload).')
  readonly modelUnloads = new Counter({
    name: 'gguf_serve_model_unloads_total',
    help: 'Models unloaded while serving: ttl (idle too long) or evicted (room for another model).',
    labelNames: ['model', 'reason'] as const,
    registers: [this.registry],
  })
  readonly modelLoadTime = this.histogram('model_load_seconds', 'Model load time, weights (unless shared) and context.', LATENCY_BUCKETS)
  readonly httpRequests = new Counter({
    name: 'gguf_serve_http_requests_total',
    help: 'HTTP responses by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gguf_serve_process_' })
    const loads = this.loads
    const gauge = (name: string, help: string, read: (load: ModelLoad) => number) =>
      new Gauge({
        name: `gguf_serve_${name}`,
        help,
        labelNames: ['model'] as const,
        registers: [this.registry],
        collect() {
          this.reset()
          for (const load of loads.map((l) => l())) this.set({ model: load.model }, read(load))
        },
      })
    gauge('requests_running', 'Requests on a slot.', (l) => l.running)
    gauge('requests_waiting', 'Requests queued for a slot.', (l) => l.waiting)
    gauge('slots_busy', 'Slots (parallel sequences) in use.', (l) => l.slotsBusy)
    gauge('slots_total', 'Slots (parallel sequences) of the model.', (l) => l.slotsTotal)
    gauge('kv_cache_tokens', 'Tokens held in the KV cache over all slots.', (l) => l.kvCacheTokens)
  }

  /** Registers a model whose load the gauges report. */
  watch(load: () => ModelLoad): void {
    this.loads.push(load)
  }

  /** Stops reporting an unloaded model's load; its scheduler registered it with `watch`. */
  unwatch(model: string): void {
    for (let i = this.loads.length - 1; i >= 0; i--) if (this.loads[i]!().model === model) this.loads.splice(i, 1)
  }

  private histogram(name: string, help: string, buckets: number[]) {
    return new Histogram({ name: `gguf_serve_${name}`, help, buckets, labelNames: ['model'] as const, registers: [this.registry] })
  }

  private counter(name: string, help: string) {
    return new Counter({ name: `gguf_serve_${name}`, help, labelNames: ['model'] as const, registers: [this.registry] })
  }
}
