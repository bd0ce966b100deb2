import type { Logger } from 'pino'
import { EngineError, GENERATION_FAILED, OverloadedError, RequestTimeoutError, ServeError, UnavailableError } from '../errors.js'
import { Embedder } from '../engine/embedder.js'
import type { Generation } from '../engine/generation.js'
import type { GenerationPlan } from '../engine/generation-plan.js'
import type { LoadedModel } from '../engine/loaded-model.js'
import { Tokenizer } from '../engine/tokenizer.js'
import type { RequestTimings, SubmitOptions } from '../generation/backend.js'
import type { EmbeddingRequest, EmbeddingResult } from '../generation/embedding.js'
import type { GenerationEvent } from '../generation/events.js'
import type { GenerationRequest } from '../generation/request.js'
import type { DetokenizeRequest, TokenizeRequest, TokenizeResult } from '../generation/tokenizing.js'
import type { RequestOutcome, ServeMetrics } from '../observability/metrics.js'
import { EventChannel } from './event-channel.js'
import { WorkLane, type WorkKind } from './work-lane.js'

/**
 * Where a request is: waiting for slots, on slots, or ended (every choice finished, the client went,
 * or it failed). Only the first two can change; an ended request's end was reported once.
 */
type EntryState = 'queued' | 'running' | 'completed' | 'cancelled' | 'failed'

interface Entry {
  plan: GenerationPlan
  channel: EventChannel<GenerationEvent>
  /** One per choice; the first leads the shared prompt evaluation. Empty while queued. */
  generations: Generation[]
  state: EntryState
  enqueuedAt: number
  startedAt: number
  firstTokenAt: number | null
  /** Per choice: when its last text arrived (inter-token latency) and how many tokens it had. */
  lastTextAt: number[]
  countedTokens: number[]
  deadline: number
  /** Finish reason of the last choice that finished. */
  outcome?: RequestOutcome
  onTimings?: (t: RequestTimings) => void
}

const isOver = (entry: Entry) => entry.state !== 'queued' && entry.state !== 'running'

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

  private readonly labels: { model: string }
  /** Embeddings and tokenizing: admitted like generations, run one at a time per kind. */
  private readonly lanes: Record<WorkKind, WorkLane>

  constructor(
    readonly model: LoadedModel,
    private readonly options: { queueMax: number; requestTimeoutMs: number; log: Logger; metrics: ServeMetrics },
  ) {
    this.labels = { model: model.info.id }
    const { metrics } = options
    const lane = (kind: WorkKind) => new WorkLane({ model: model.info.id, kind, queueMax: options.queueMax, requestTimeoutMs: options.requestTimeoutMs, metrics })
    this.lanes = { embed: lane('embed'), tokenize: lane('tokenize'), detokenize: lane('detokenize') }
    model.onBatch = ({ tokens, passes }) => {
      metrics.batchTokens.observe(this.labels, tokens)
      metrics.batchPasses.observe(this.labels, passes)
    }
    metrics.watch(() => ({
      model: model.info.id,
      running: this.running.size,
      waiting: this.queue.length,
      slotsBusy: model.slots.filter((s) => s.busy).length,
      slotsTotal: model.slots.length,
      kvCacheTokens: model.kvCacheTokens,
    }))
  }

  /** Requests waiting: for slots, or for their turn in a lane. */
  get waiting(): number {
    return this.queue.length + this.laneList().reduce((sum, lane) => sum + lane.waiting, 0)
  }

  /** Requests being served: generations on slots, and lane work. */
  get active(): number {
    return this.running.size + this.laneList().reduce((sum, lane) => sum + lane.active, 0)
  }

  /**
   * Queues a request and returns its events. Rendering and validation happen here, synchronously, so
   * their errors (context length, unknown token ids, queue full) are thrown before anything is sent.
   */
  submit(request: GenerationRequest, options: SubmitOptions = {}): AsyncIterable<GenerationEvent> {
    this.refuseWhenDraining()
    const plan = this.model.planner.plan(request)
    // Counted in generations (n each), not requests, so one request cannot hold the queue with a fan-out;
    // those that will find a free slot at the next step do not count as waiting.
    const waiting = this.queue.reduce((sum, e) => sum + e.plan.request.n, 0)
    if (waiting + request.n - this.freeSlots() > this.options.queueMax) {
      this.options.metrics.queueRejections.inc(this.labels)
      throw new OverloadedError(1, `${waiting} generations are already waiting for ${this.model.info.id}; retry in 1s.`)
    }
    const entry: Entry = {
      plan,
      channel: new EventChannel<GenerationEvent>(() => this.cancel(entry)),
      generations: [],
      state: 'queued',
      enqueuedAt: performance.now(),
      startedAt: 0,
      firstTokenAt: null,
      lastTextAt: [],
      countedTokens: [],
      deadline: this.options.requestTimeoutMs > 0 ? performance.now() + this.options.requestTimeoutMs : Infinity,
      onTimings: options.onTimings,
    }
    const { signal } = options
    if (signal?.aborted) return emptyEvents()
    signal?.addEventListener('abort', () => this.cancel(entry), { once: true })
    this.enqueue(entry)
    this.kick()
    return entry.channel
  }

  /** Embeds through the model's embedding lane; the vectors come from its own embedding context. */
  embed(request: EmbeddingRequest, options: SubmitOptions = {}): Promise<EmbeddingResult> {
    this.refuseWhenDraining()
    const { inputs, dimensions } = request
    return this.lanes.embed.run((signal) => Embedder.for(this.model).embed(inputs, { dimensions, signal }), options.signal)
  }

  tokenize(request: TokenizeRequest, options: SubmitOptions = {}): Promise<TokenizeResult> {
    this.refuseWhenDraining()
    return this.lanes.tokenize.run(async () => {
      const tokenizer = new Tokenizer(this.model)
      const { input } = request
      const tokens = input.kind === 'chat' ? tokenizer.render(input.messages, input.template ?? null, input.tools ?? null) : tokenizer.tokenize(input.text, input.addSpecial)
      return { tokens, pieces: request.withPieces ? tokenizer.pieces(tokens) : null, contextSize: this.model.info.contextSize }
    }, options.signal)
  }

  detokenize(request: DetokenizeRequest, options: SubmitOptions = {}): Promise<string> {
    this.refuseWhenDraining()
    return this.lanes.detokenize.run(async () => new Tokenizer(this.model).detokenize(request.tokens, request.keepSpecial), options.signal)
  }

  /** Stops admitting; resolves once every queued and running request (generations and lane work) has finished. */
  async drain(): Promise<void> {
    this.draining = true
    await Promise.all([this.loop, ...this.laneList().map((lane) => lane.idle())])
  }

  private refuseWhenDraining(): void {
    if (this.draining) throw new UnavailableError('The server is shutting down.', 'shutting_down')
  }

  private laneList(): WorkLane[] {
    return Object.values(this.lanes)
  }

  /** By priority (lower first), FIFO among equals. */
  private enqueue(entry: Entry): void {
    const priority = entry.plan.request.priority
    const after = this.queue.findIndex((e) => e.plan.request.priority > priority)
    if (after < 0) this.queue.push(entry)
    else this.queue.splice(after, 0, entry)
  }

  private freeSlots(): number {
    return this.model.slots.filter((s) => !s.busy).length
  }

  private cancel(entry: Entry): void {
    if (isOver(entry)) return
    const queued = entry.state === 'queued'
    entry.state = 'cancelled'
    this.options.metrics.cancellations.inc({ ...this.labels, stage: queued ? 'queued' : 'running' })
    if (queued) {
      this.queue.splice(this.queue.indexOf(entry), 1)
      entry.channel.end()
    }
    // A running entry is dropped by the loop after the step in flight.
    this.finishEntry(entry, 'cancelled')
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
      this.enforceDeadlines()
      await this.admit()
      // Issued in slot order, so the batch lists its sequences in ascending order: llama.cpp decodes such a
      // run in one pass over the weights, and makes one pass per sequence when the order is reversed.
      const stepping = this.pickStep().sort((a, b) => a.slot.index - b.slot.index)
      // A turn with no engine work (followers about to copy their leader) must still yield to I/O.
      const step = stepping.length > 0 ? Promise.all(stepping.map((g) => this.stepOne(g))) : new Promise((resolve) => setImmediate(resolve))
      // The step's decode runs off the event loop: the previous step's events go out while it runs.
      for (const entry of this.running) if (!isOver(entry)) this.forward(entry)
      await step
      await this.settle()
    }
  }

  /** Moves queued requests (FIFO) onto free slots; a request's first slot is the one reusing most of its prompt. */
  private async admit(): Promise<void> {
    while (this.queue.length > 0) {
      const entry = this.queue[0]!
      const slots = this.model.pickSlots(entry.plan)
      if (!slots) return
      this.queue.shift()
      entry.startedAt = performance.now()
      try {
        entry.generations = await this.model.start(entry.plan, slots)
      } catch (error) {
        this.fail(entry, error)
        continue
      }
      entry.state = 'running'
      this.running.add(entry)
      const leader = entry.generations[0]!
      const { metrics } = this.options
      metrics.queueTime.observe(this.labels, (entry.startedAt - entry.enqueuedAt) / 1000)
      metrics.promptTokens.observe(this.labels, entry.plan.promptTokens.length)
      metrics.promptTokensCached.inc(this.labels, leader.cachedTokens)
      // A prompt that fits one chunk is evaluated with the first sampling step: count it now; longer ones
      // (and followers) are counted when their prompt is done (stepOne).
      for (const generation of entry.generations) {
        if (!generation.awaitingPrompt) metrics.promptTokensEvaluated.inc(this.labels, generation.evaluatedPromptTokens)
      }
      entry.channel.push({
        type: 'started',
        promptTokens: entry.plan.promptTokens.length,
        cachedTokens: leader.cachedTokens,
        choices: entry.generations.length,
      })
    }
  }

  /**
   * Past its deadline, a queued request fails with a timeout; a running one ends: choices that already
   * sent text finish with "length" (the client has a usable answer), otherwise the request fails.
   */
  private enforceDeadlines(): void {
    const now = performance.now()
    for (const entry of [...this.queue]) {
      if (entry.deadline > now) continue
      this.queue.splice(this.queue.indexOf(entry), 1)
      this.fail(entry, new RequestTimeoutError(this.options.requestTimeoutMs, 'queued'), 'timeout')
    }
    for (const entry of this.running) {
      if (entry.deadline > now || isOver(entry)) continue
      const ended = entry.generations.map((g) => g.endAtDeadline())
      if (!ended.every(Boolean)) this.fail(entry, new RequestTimeoutError(this.options.requestTimeoutMs, 'running'), 'timeout')
    }
  }

  /** Every decoding generation, plus prefill chunks while the batch has room. */
  private pickStep(): Generation[] {
    let budget = this.model.config.batchSize
    const sampling: Generation[] = []
    const prefilling: Generation[] = []
    for (const entry of this.running) {
      if (isOver(entry)) continue
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
    const awaitingPrompt = generation.awaitingPrompt
    try {
      await generation.step()
    } catch (error) {
      // An engine failure ends this request only.
      const entry = [...this.running].find((e) => e.generations.includes(generation))
      if (entry) this.fail(entry, error, 'error')
    }
    if (awaitingPrompt && !generation.awaitingPrompt) this.options.metrics.promptTokensEvaluated.inc(this.labels, generation.evaluatedPromptTokens)
  }

  /**
   * Lets n > 1 followers copy their leader's prompt and releases finished requests, after delivering
   * their last events; the events of those still running go out once the next step is under way (run).
   */
  private async settle(): Promise<void> {
    for (const entry of [...this.running]) {
      const [leader, ...followers] = entry.generations
      if (leader?.promptShared) {
        for (const follower of followers) if (follower.waitingForLeader) await follower.followLeader(leader)
      }
      if (entry.state === 'running' && entry.generations.every((g) => g.finished)) {
        // Its last events go out now, before release; a consumer that stops reading after them is not a cancellation.
        this.forward(entry)
        entry.state = 'completed'
        this.finishEntry(entry, entry.outcome ?? 'stop')
      }
      if (!isOver(entry)) continue
      this.running.delete(entry)
      for (const g of entry.generations) await this.model.release(g)
      if (entry.state !== 'cancelled') entry.channel.end()
    }
  }

  private forward(entry: Entry): void {
    const { metrics } = this.options
    for (const g of entry.generations) {
      const counted = entry.countedTokens[g.choice] ?? 0
      if (g.completionTokens > counted) metrics.generatedTokens.inc(this.labels, g.completionTokens - counted)
      entry.countedTokens[g.choice] = g.completionTokens
      for (const event of g.takeEvents()) {
        // Thinking is output too: a reasoning model's first token is its first thought.
        if (event.type === 'text' || event.type === 'reasoning') {
          const now = performance.now()
          if (entry.firstTokenAt === null) {
            entry.firstTokenAt = now
            metrics.timeToFirstToken.observe(this.labels, (now - entry.enqueuedAt) / 1000)
          }
          const last = entry.lastTextAt[g.choice]
          // A text event may carry several tokens (held back for a stop string): spread the gap over them.
          if (last !== undefined) {
            for (let i = 0; i < event.tokens; i++) metrics.interTokenLatency.observe(this.labels, (now - last) / 1000 / event.tokens)
          }
          entry.lastTextAt[g.choice] = now
        }
        if (event.type === 'finished') entry.outcome = event.reason
        entry.channel.push(event)
      }
    }
  }

  private fail(entry: Entry, error: unknown, outcome: RequestOutcome = 'error'): void {
    if (isOver(entry)) return
    entry.state = 'failed'
    entry.channel.end(error instanceof ServeError ? error : new EngineError(GENERATION_FAILED, error))
    this.finishEntry(entry, outcome)
  }

  /** Records a request's end (once: only a live request ends): its outcome, latency and tokens, and the caller's timings. */
  private finishEntry(entry: Entry, outcome: RequestOutcome): void {
    const now = performance.now()
    const { metrics } = this.options
    metrics.requests.inc({ ...this.labels, outcome })
    metrics.endToEndLatency.observe(this.labels, (now - entry.enqueuedAt) / 1000)
    metrics.completionTokens.observe(this.labels, entry.countedTokens.reduce((a, b) => a + b, 0))
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
