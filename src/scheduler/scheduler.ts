import type { Logger } from 'pino'
import { EngineError, OverloadedError, ServeError, UnavailableError } from '../errors.js'
import type { Generation, GenerationPlan } from '../engine/generation.js'
import type { LoadedModel } from '../engine/loaded-model.js'
import type { GenerationEvent, GenerationRequest } from '../engine/types.js'
import { EventChannel } from './event-channel.js'

/** What the scheduler measured for one request. */
export interface RequestTimings {
  queueMs: number
  /** Arrival to first text, null when no text was produced. */
  ttftMs: number | null
  totalMs: number
}

interface Entry {
  plan: GenerationPlan
  channel: EventChannel<GenerationEvent>
  /** One per choice; the first leads the shared prompt evaluation. Empty while queued. */
  generations: Generation[]
  cancelled: boolean
  failed: boolean
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
   * Queues a request and returns its events. Rendering and validation happen here, synchronously, so
   * their errors (context length, unknown token ids, queue full) are thrown before anything is sent.
   */
  submit(request: GenerationRequest, options: SubmitOptions = {}): AsyncIterable<GenerationEvent> {
    if (this.draining) throw new UnavailableError('The server is shutting down.', 'shutting_down')
    const plan = this.model.plan(request)
    // Requests that will find a free slot at the next step do not count as waiting.
    if (this.queue.length + 1 - this.freeSlots() > this.options.queueMax) {
      throw new OverloadedError(1, `${this.queue.length} requests are already waiting for ${this.model.info.id}; retry in 1s.`)
    }
    const entry: Entry = {
      plan,
      channel: new EventChannel<GenerationEvent>(() => this.cancel(entry)),
      generations: [],
      cancelled: false,
      failed: false,
      enqueuedAt: performance.now(),
      startedAt: 0,
      firstTokenAt: null,
      onTimings: options.onTimings,
    }
    const { signal } = options
    if (signal?.aborted) return emptyEvents()
    signal?.addEventListener('abort', () => this.cancel(entry), { once: true })
    this.queue.push(entry)
    this.kick()
    return entry.channel
  }

  /** Stops admitting; resolves once every queued and running request has finished. */
  async drain(): Promise<void> {
    this.draining = true
    await this.loop
  }

  private freeSlots(): number {
    return this.model.slots.filter((s) => !s.busy).length
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
      if (stepping.length > 0) await Promise.all(stepping.map((g) => this.stepOne(g)))
      // A turn with no engine work (followers about to copy their leader) must still yield to I/O.
      else await new Promise((resolve) => setImmediate(resolve))
      await this.settle()
    }
  }

  /** Moves queued requests (FIFO) onto free slots; a request's first slot is the one reusing most of its prompt. */
  private async admit(): Promise<void> {
    while (this.queue.length > 0) {
      const entry = this.queue[0]!
      const slots = this.model.pickSlots(entry.plan.promptTokens, entry.plan.request.n)
      if (!slots) return
      this.queue.shift()
      entry.startedAt = performance.now()
      try {
        entry.generations = await this.model.start(entry.plan, slots)
      } catch (error) {
        this.fail(entry, error)
        continue
      }
      this.running.add(entry)
      const leader = entry.generations[0]!
      entry.channel.push({
        type: 'started',
        promptTokens: entry.plan.promptTokens.length,
        cachedTokens: leader.cachedTokens,
        choices: entry.generations.length,
      })
    }
  }

  /** Every decoding generation, plus prefill chunks while the batch has room. */
  private pickStep(): Generation[] {
    let budget = this.model.config.batchSize
    const sampling: Generation[] = []
    const prefilling: Generation[] = []
    for (const entry of this.running) {
      if (entry.cancelled || entry.failed) continue
      for (const g of entry.generations) {
        if (g.finished || g.nextBatchTokens === 0) continue
        ;(g.prefilling ? prefilling : sampling).push(g)
      }
    }
    const picked: Generation[] = []
    for (const g of [...sampling, ...rotate(prefilling, this.prefillTurn++)]) {
      const need = g.nextBatchTokens
      // The first piece of work always goes, so a small budget setting cannot stall a long prompt.
      if (need > budget && picked.length > 0) continue
      picked.push(g)
      budget -= need
    }
    return picked
  }

  private async stepOne(generation: Generation): Promise<void> {
    try {
      await generation.step()
    } catch (error) {
      // An engine failure ends this request only.
      const entry = [...this.running].find((e) => e.generations.includes(generation))
      if (entry) this.fail(entry, new EngineError(`Generation failed: ${(error as Error).message}`, error))
    }
  }

  /** Delivers new events, lets n > 1 followers copy their leader's prompt, releases finished requests. */
  private async settle(): Promise<void> {
    for (const entry of [...this.running]) {
      if (!entry.cancelled && !entry.failed) this.forward(entry)
      const [leader, ...followers] = entry.generations
      if (leader?.promptShared) {
        for (const follower of followers) if (follower.waitingForLeader) await follower.followLeader(leader)
      }
      const done = entry.cancelled || entry.failed || entry.generations.every((g) => g.finished)
      if (!done) continue
      this.running.delete(entry)
      for (const g of entry.generations) await this.model.release(g)
      if (!entry.cancelled) entry.channel.end()
      this.reportTimings(entry)
    }
  }

  private forward(entry: Entry): void {
    for (const g of entry.generations) {
      for (const event of g.takeEvents()) {
        if (event.type === 'text' && entry.firstTokenAt === null) entry.firstTokenAt = performance.now()
        entry.channel.push(event)
      }
    }
  }

  private fail(entry: Entry, error: unknown): void {
    entry.failed = true
    entry.channel.end(error instanceof ServeError ? error : new EngineError(String(error), error))
    if (!this.running.has(entry)) this.reportTimings(entry)
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

function rotate<T>(items: T[], turn: number): T[] {
  if (items.length === 0) return items
  const start = turn % items.length
  return [...items.slice(start), ...items.slice(0, start)]
}

async function* emptyEvents(): AsyncGenerator<GenerationEvent> {}
