import type { Logger } from 'pino'
import { EngineError, OverloadedError, ServeError, UnavailableError } from '../errors.js'
import type { Generation, GenerationPlan } from '../engine/generation.js'
import type { LoadedModel } from '../engine/loaded-model.js'
import type { GenerationEvent, GenerationRequest } from '../engine/types.js'
import { EventChannel } from './event-channel.js'

/** What the scheduler measured for one request, attached to its `finished` event's consumer. */
export interface RequestTimings {
  queueMs: number
  /** Admission to first token (prefill time), null when no token was produced. */
  ttftMs: number | null
  totalMs: number
}

interface Entry {
  plan: GenerationPlan
  channel: EventChannel<GenerationEvent>
  generation: Generation | null
  cancelled: boolean
  enqueuedAt: number
  startedAt: number
  firstTokenAt: number | null
  onTimings?: (t: RequestTimings) => void
}

export interface SubmitOptions {
  signal?: AbortSignal
  /** Called once when the request ends, with what the scheduler measured. */
  onTimings?: (timings: RequestTimings) => void
}

/**
 * Admits requests onto a model's slots and runs the step loop: every step advances every running
 * generation together (one llama.cpp batch: a token for each decoding slot plus prompt chunks of those
 * still prefilling), so requests that arrive while others decode join at the next step. Only the loop
 * touches the queue and the slots.
 */
export class Scheduler {
  private readonly queue: Entry[] = []
  private readonly running = new Set<Entry>()
  private loop: Promise<void> | null = null
  private draining = false
  /** Rotates which prefilling request goes first, so one long prompt cannot starve the others. */
  private prefillTurn = 0

  constructor(
    readonly model: LoadedModel,
    private readonly options: { queueMax: number; log: Logger },
  ) {}

  get waiting(): number {
    return this.queue.length
  }

  get active(): number {
    return this.running.size
  }

  /**
   * Queues a request and returns its events. Rendering and validation happen here, so their errors
   * (context length, template) are thrown by the first `next()`, before any event.
   */
  submit(request: GenerationRequest, options: SubmitOptions = {}): AsyncIterable<GenerationEvent> {
    if (this.draining) throw new UnavailableError('The server is shutting down.', 'shutting_down')
    const plan = this.model.plan(request)
    if (this.queue.length >= this.options.queueMax && this.freeSlots() === 0) {
      throw new OverloadedError(1, `${this.queue.length} requests are already waiting for ${this.model.info.id}; retry in 1s.`)
    }
    const entry: Entry = {
      plan,
      channel: new EventChannel<GenerationEvent>(() => this.cancel(entry)),
      generation: null,
      cancelled: false,
      enqueuedAt: performance.now(),
      startedAt: 0,
      firstTokenAt: null,
      onTimings: options.onTimings,
    }
    const { signal } = options
    if (signal?.aborted) entry.cancelled = true
    else signal?.addEventListener('abort', () => this.cancel(entry), { once: true })
    this.queue.push(entry)
    this.kick()
    return entry.channel
  }

  /** Stops admitting; resolves once every queued and running request has finished. */
  async drain(): Promise<void> {
    this.draining = true
    await this.loop
  }

  private cancel(entry: Entry): void {
    if (entry.cancelled) return
    entry.cancelled = true
    const queued = this.queue.indexOf(entry)
    if (queued >= 0) {
      this.queue.splice(queued, 1)
      entry.channel.end()
    }
    // A running entry is dropped by the loop after the step in flight.
  }

  private freeSlots(): number {
    return this.model.slots.filter((s) => !s.busy).length
  }

  private kick(): void {
    this.loop ??= this.run()
      .catch((error: unknown) => this.options.log.error({ err: error }, 'scheduler loop failed'))
      .finally(() => {
        this.loop = null
        if (this.queue.length > 0) this.kick()
      })
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 || this.running.size > 0) {
      await this.admit()
      const stepping = this.pickStep()
      if (stepping.length === 0) continue
      await Promise.all(stepping.map((entry) => this.stepOne(entry)))
      await this.settle()
    }
  }

  /** Moves queued requests (FIFO) onto free slots, each onto the slot that can reuse most of its prompt. */
  private async admit(): Promise<void> {
    while (this.queue.length > 0) {
      const entry = this.queue[0]!
      const slot = this.model.pickSlot(entry.plan.promptTokens)
      if (!slot) return
      this.queue.shift()
      entry.startedAt = performance.now()
      try {
        entry.generation = await this.model.start(entry.plan, slot)
        this.running.add(entry)
        this.forward(entry)
      } catch (error) {
        slot.busy = false
        this.fail(entry, error)
      }
    }
  }

  /** Every decoding generation, plus prefill chunks while the batch has room. */
  private pickStep(): Entry[] {
    let budget = this.model.config.batchSize
    const decoding: Entry[] = []
    const prefilling: Entry[] = []
    for (const entry of this.running) {
      if (entry.cancelled || entry.generation!.finished) continue
      ;(entry.generation!.prefilling ? prefilling : decoding).push(entry)
    }
    budget -= decoding.length
    const picked = [...decoding]
    const turn = this.prefillTurn++ % Math.max(1, prefilling.length)
    for (const entry of [...prefilling.slice(turn), ...prefilling.slice(0, turn)]) {
      const need = entry.generation!.nextBatchTokens
      // The first chunk always goes, so an oversized budget setting cannot stall a prompt.
      if (need > budget && picked.length > 0) continue
      picked.push(entry)
      budget -= need
    }
    return picked
  }

  private async stepOne(entry: Entry): Promise<void> {
    try {
      await entry.generation!.step()
    } catch (error) {
      // An engine failure ends this request only.
      this.fail(entry, new EngineError(`Generation failed: ${(error as Error).message}`, error))
      await entry.generation!.close().catch(() => {})
    }
  }

  /** Delivers new events, then releases the slots of finished or cancelled requests. */
  private async settle(): Promise<void> {
    for (const entry of [...this.running]) {
      if (!entry.cancelled) this.forward(entry)
      const generation = entry.generation!
      if (!generation.finished && !entry.cancelled) continue
      this.running.delete(entry)
      await this.model.release(generation)
      if (!entry.cancelled) entry.channel.end()
      this.reportTimings(entry)
    }
  }

  private forward(entry: Entry): void {
    for (const event of entry.generation!.takeEvents()) {
      if (event.type === 'text' && entry.firstTokenAt === null) entry.firstTokenAt = performance.now()
      entry.channel.push(event)
    }
  }

  private fail(entry: Entry, error: unknown): void {
    entry.channel.end(error instanceof ServeError ? error : new EngineError(String(error), error))
    if (entry.generation) entry.generation.finished = true
    else this.reportTimings(entry)
  }

  private reportTimings(entry: Entry): void {
    const now = performance.now()
    const startedAt = entry.startedAt || now
    entry.onTimings?.({
      queueMs: startedAt - entry.enqueuedAt,
      ttftMs: entry.firstTokenAt === null ? null : entry.firstTokenAt - entry.enqueuedAt,
      totalMs: now - entry.enqueuedAt,
    })
  }
}
