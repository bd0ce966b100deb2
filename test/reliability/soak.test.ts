import v8 from 'node:v8'
import vm from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scrape, value } from '../helpers/prometheus.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { capturingLogger, CLIENT_LEFT, logProblems, type LogLine } from './log-capture.js'
import { mapPool } from './pool.js'
import { Random } from './random.js'
import { expectIdle, total } from './server-state.js'
import { playSoakRequest, soakRequest, type SoakOutcome, type SoakRequest } from './soak-client.js'

v8.setFlagsFromString('--expose_gc')
const gc = vm.runInNewContext('gc') as () => void

const SEED = 0x50a4
const WARMUP = 300
const SOAK = 2000
const CHECKPOINTS = 3
const CONCURRENCY = 8
const MB = 1024 * 1024

/**
 * Bounds on growth from the warmed-up baseline to the end. The process holds both the server and the
 * client (undici), so the heap moves a little for reasons unrelated to requests; a leak of one small object
 * graph per request (a reply, its events, a closure over a slot: 10 KB or more) grows it by 20 MB or more
 * over 2,000 requests. RSS also carries llama.cpp's allocations and malloc's retained pages, hence its
 * generous bound.
 */
const HEAP_GROWTH_LIMIT = 12 * MB
/** The last third may not add more than this on top of the second: a steady leak keeps rising. */
const HEAP_LAST_STEP_LIMIT = 4 * MB
const RSS_GROWTH_LIMIT = 150 * MB

interface Snapshot {
  after: string
  heapUsed: number
  rss: number
}

async function settledMemory(after: string): Promise<Snapshot> {
  // Several passes: finalizers (undici sockets, llama.cpp handles) free more on the next one.
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 50))
  }
  const { heapUsed, rss } = process.memoryUsage()
  return { after, heapUsed, rss }
}

const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`

describe('soak: thousands of streamed requests with random disconnects', () => {
  let t: TestServer
  // Lines the checks read; the 200s are only counted (holding thousands would blur the heap figures).
  let abortedLines = 0
  const log = capturingLogger((line: LogLine) => {
    if (line.msg === 'request' && line.outcome === 'aborted' && line.status === 499) abortedLines++
    return line.level >= 40 || line.err !== undefined || line.msg === CLIENT_LEFT || (line.msg === 'request' && line.status !== 200 && line.status !== 499)
  })
  beforeAll(async () => {
    t = await startTestServer({ parallel: '4' }, log.logger)
  })
  let closed = false
  afterAll(async () => {
    if (!closed) await t?.close()
  })

  it('frees every slot and leaks no memory', async () => {
    const random = new Random(SEED)
    const run = async (count: number) => {
      const requests: SoakRequest[] = Array.from({ length: count }, () => soakRequest(random))
      const outcomes = await mapPool(requests, CONCURRENCY, (request) => playSoakRequest(t.origin, request))
      return requests.map((request, i) => ({ request, outcome: outcomes[i]! }))
    }

    await run(WARMUP)
    await expectIdle(t.origin)
    const snapshots = [await settledMemory(`warm-up (${WARMUP} requests)`)]
    const metricsBefore = await scrape(t.origin)

    const started = performance.now()
    const results: Array<{ request: SoakRequest; outcome: SoakOutcome }> = []
    for (let i = 1; i <= CHECKPOINTS; i++) {
      results.push(...(await run(Math.ceil(SOAK / CHECKPOINTS))))
      await expectIdle(t.origin)
      snapshots.push(await settledMemory(`${results.length} soak requests`))
    }
    const seconds = (performance.now() - started) / 1000
    const metricsAfter = await scrape(t.origin)

    const count = (kind: SoakOutcome['kind'], disconnect?: string) =>
      results.filter((r) => r.outcome.kind === kind && (disconnect === undefined || r.request.disconnect === disconnect)).length
    const cancellations = total(metricsAfter, 'gguf_serve_cancellations_total') - total(metricsBefore, 'gguf_serve_cancellations_total')
    console.log(
      `soak seed ${SEED}: ${results.length} requests in ${seconds.toFixed(1)} s at concurrency ${CONCURRENCY} ` +
        `(${results.filter((r) => r.request.stream).length} streamed): ${count('completed')} completed, ${count('aborted')} aborted ` +
        `(${['before-headers', 'after-first-chunk', 'mid-stream'].map((d) => `${d} ${count('aborted', d)}`).join(', ')}), ` +
        `${count('failed')} failed; server counted ${cancellations} cancellations\n` +
        snapshots.map((s) => `  after ${s.after.padEnd(28)} heapUsed ${mb(s.heapUsed).padStart(9)}  rss ${mb(s.rss).padStart(9)}`).join('\n'),
    )

    const failures = results.filter((r) => r.outcome.kind === 'failed').map((r) => JSON.stringify(r))
    expect(failures.slice(0, 10), `${failures.length} requests failed`).toEqual([])
    // Disconnects are the client's doing: no error-level line, no exception behind a 4xx, and each is logged
    // and counted as an aborted request (499), like every other request.
    expect(logProblems(log.lines).slice(0, 10)).toEqual([])
    expect(abortedLines).toBeGreaterThanOrEqual(cancellations)
    expect(value(metricsAfter, 'gguf_serve_http_requests_total', { route: '/v1/chat/completions', status: '499' })).toBeGreaterThanOrEqual(cancellations)
    // Disconnects reached the server and were counted as cancellations.
    expect(cancellations).toBeGreaterThan(0)
    expect(cancellations).toBeLessThanOrEqual(count('aborted'))
    expect(count('completed')).toBeGreaterThan(SOAK / 2)

    const [baseline, ...checkpoints] = snapshots as [Snapshot, ...Snapshot[]]
    const final = checkpoints.at(-1)!
    expect(final.heapUsed - baseline.heapUsed, 'heapUsed growth over the soak').toBeLessThan(HEAP_GROWTH_LIMIT)
    expect(final.heapUsed - checkpoints.at(-2)!.heapUsed, 'heapUsed growth in the last third').toBeLessThan(HEAP_LAST_STEP_LIMIT)
    expect(final.rss - baseline.rss, 'RSS growth over the soak').toBeLessThan(RSS_GROWTH_LIMIT)
  })

  it('still answers normally afterwards', async () => {
    const reply = await t.client.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 })
    expect(reply.choices[0]!.finish_reason).toMatch(/^(stop|length)$/)
    await expectIdle(t.origin)
  })

  it('shuts down without waiting out the grace period: nothing is left in flight', async () => {
    const started = performance.now()
    closed = true
    await t.close()
    // server.shutdownGraceMs is 30 s: a close that takes that long was waiting on a connection it should not.
    expect(performance.now() - started).toBeLessThan(10_000)
  })
})
