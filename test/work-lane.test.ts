import { describe, expect, it } from 'vitest'
import { OverloadedError, RequestTimeoutError, UnavailableError } from '../src/errors.js'
import { ServeMetrics } from '../src/observability/metrics.js'
import { WorkLane } from '../src/scheduler/work-lane.js'

function lane(queueMax = 1, requestTimeoutMs = 0) {
  const metrics = new ServeMetrics()
  return { metrics, lane: new WorkLane({ model: 'm', kind: 'embed', queueMax, requestTimeoutMs, metrics }) }
}

/** A job that runs until released (or its signal fires), recording that it started. */
function gate() {
  let release!: (value: string) => void
  let started = false
  const work = (signal: AbortSignal) =>
    new Promise<string>((resolve, reject) => {
      started = true
      release = resolve
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })
    })
  return { work, release: (v: string) => release(v), started: () => started }
}

async function count(metrics: ServeMetrics, outcome: string): Promise<number> {
  const values = (await metrics.workRequests.get()).values
  return values.find((v) => v.labels.outcome === outcome)?.value ?? 0
}

describe('WorkLane', () => {
  it('runs one job at a time in arrival order, and refuses beyond queueMax with 429 and Retry-After', async () => {
    const { lane: l, metrics } = lane(1)
    const first = gate()
    const a = l.run(first.work)
    const b = l.run(async () => 'b')
    expect(first.started()).toBe(true)
    expect([l.active, l.waiting]).toEqual([1, 1])
    const refused = await l.run(async () => 'c').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(OverloadedError)
    expect((refused as OverloadedError).headers['retry-after']).toBe('1')
    first.release('a')
    expect([await a, await b]).toEqual(['a', 'b'])
    expect([await count(metrics, 'ok'), await count(metrics, 'rejected')]).toEqual([2, 1])
    await l.idle()
  })

  it('a job whose client goes while queued is withdrawn; while running, its work sees the signal', async () => {
    const { lane: l, metrics } = lane(4)
    const first = gate()
    const running = l.run(first.work, new AbortController().signal)
    const leaving = new AbortController()
    const queued = l.run(async () => 'never', leaving.signal)
    leaving.abort()
    await expect(queued).rejects.toBeInstanceOf(UnavailableError)
    expect(l.waiting).toBe(0)
    const gone = new AbortController()
    const second = gate()
    first.release('done')
    await running
    await l.idle()
    const cancelled = l.run(second.work, gone.signal)
    gone.abort()
    await expect(cancelled).rejects.toThrow('aborted')
    expect(await count(metrics, 'cancelled')).toBe(2)
  })

  it('past the deadline a queued job fails with 503 timeout; a running one is aborted and fails the same way', async () => {
    const { lane: l } = lane(4, 50)
    let release!: () => void
    // Ignores its signal: stays running past its deadline, so the job behind it times out in the queue.
    const stubborn = l.run(() => new Promise<string>((resolve) => (release = () => resolve('slow'))))
    const queued = l.run(async () => 'late')
    await expect(queued).rejects.toBeInstanceOf(RequestTimeoutError)
    release()
    expect(await stubborn).toBe('slow')
    const cooperative = l.run(gate().work)
    await expect(cooperative).rejects.toBeInstanceOf(RequestTimeoutError)
    await l.idle()
    expect([l.active, l.waiting]).toEqual([0, 0])
  })
})
