import { OverloadedError, RequestTimeoutError, UnavailableError } from '../errors.js'
import type { ServeMetrics } from '../observability/metrics.js'

export type WorkKind = 'embed' | 'tokenize' | 'detokenize'

interface Job {
  run: (signal: AbortSignal) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  /** Fires on the client's signal or the deadline; the work checks it between its pieces. */
  abort: AbortController
  enqueuedAt: number
  timer: NodeJS.Timeout | null
  timedOut: boolean
}

export interface LaneOptions {
  model: string
  kind: WorkKind
  /** Jobs waiting beyond this many are refused with 429. */
  queueMax: number
  /** 0 = no deadline. */
  requestTimeoutMs: number
  metrics: ServeMetrics
}

/**
 * Admission for a model's work that is not a generation (embeddings, tokenizing): a FIFO queue bounded
 * like the generation queue, one job at a time, a deadline, and cancellation when the client goes. A
 * job in the lane counts as use of the model, so it is never unloaded under it (`idle`, `drain`).
 */
export class WorkLane {
  private readonly queue: Job[] = []
  private running: Job | null = null
  private idleWaiters: Array<() => void> = []

  constructor(private readonly options: LaneOptions) {}

  get waiting(): number {
    return this.queue.length
  }

  get active(): number {
    return this.running ? 1 : 0
  }

  /** Queues `work`; rejects with 429 when the queue is full, 503 timeout past the deadline. */
  run<T>(work: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const { metrics, model, kind, queueMax, requestTimeoutMs } = this.options
    if (this.queue.length + (this.running ? 1 : 0) > queueMax) {
      metrics.queueRejections.inc({ model })
      metrics.workRequests.inc({ model, kind, outcome: 'rejected' })
      return Promise.reject(new OverloadedError(1, `${this.queue.length} ${kind} requests are already waiting for ${model}; retry in 1s.`))
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        run: work,
        resolve: resolve as (value: unknown) => void,
        reject,
        abort: new AbortController(),
        enqueuedAt: performance.now(),
        timer: null,
        timedOut: false,
      }
      if (requestTimeoutMs > 0) {
        job.timer = setTimeout(() => {
          job.timedOut = true
          if (this.withdraw(job)) this.settle(job, new RequestTimeoutError(requestTimeoutMs, 'queued'), 'timeout')
          else job.abort.abort()
        }, requestTimeoutMs)
      }
      if (signal?.aborted) return this.settle(job, clientClosed(), 'cancelled', 'queued')
      signal?.addEventListener(
        'abort',
        () => {
          if (this.withdraw(job)) this.settle(job, clientClosed(), 'cancelled', 'queued')
          else job.abort.abort()
        },
        { once: true },
      )
      this.queue.push(job)
      this.next()
    })
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private withdraw(job: Job): boolean {
    const index = this.queue.indexOf(job)
    if (index < 0) return false
    this.queue.splice(index, 1)
    return true
  }

  private next(): void {
    if (this.running) return
    const job = this.queue.shift()
    if (!job) {
      for (const resolve of this.idleWaiters.splice(0)) resolve()
      return
    }
    this.running = job
    const { metrics, model, requestTimeoutMs } = this.options
    metrics.queueTime.observe({ model }, (performance.now() - job.enqueuedAt) / 1000)
    job
      .run(job.abort.signal)
      .then(
        (value) => this.settle(job, null, 'ok', undefined, value),
        (error: unknown) => {
          if (job.timedOut) return this.settle(job, new RequestTimeoutError(requestTimeoutMs, 'running'), 'timeout')
          this.settle(job, error, job.abort.signal.aborted ? 'cancelled' : 'error', 'running')
        },
      )
      .finally(() => {
        this.running = null
        this.next()
      })
  }

  private settle(job: Job, error: unknown, outcome: 'ok' | 'error' | 'cancelled' | 'timeout', stage?: 'queued' | 'running', value?: unknown): void {
    if (job.timer) clearTimeout(job.timer)
    const { metrics, model, kind } = this.options
    metrics.workRequests.inc({ model, kind, outcome })
    metrics.workLatency.observe({ model, kind }, (performance.now() - job.enqueuedAt) / 1000)
    if (outcome === 'cancelled' && stage) metrics.cancellations.inc({ model, stage })
    if (error) job.reject(error)
    else job.resolve(value)
  }
}

function clientClosed(): UnavailableError {
  return new UnavailableError('The client closed the request before it was served.', 'client_closed')
}
