import { expect } from 'vitest'
import { scrape, type Samples } from '../helpers/prometheus.js'

/**
 * Asserts the server is healthy and idle: /health 200 with every model's slots free and queue empty, and
 * the running/waiting gauges back at 0. Polls briefly: a cancelled request frees its slot one step later.
 */
export async function expectIdle(origin: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < deadline) {
    const health = await fetch(`${origin}/health`)
    const body = (await health.json()) as { models: Array<{ id: string; slots_busy: number; queue: number }> }
    const metrics = await scrape(origin)
    const busy = body.models.filter((m) => m.slots_busy !== 0 || m.queue !== 0)
    const running = total(metrics, 'gguf_serve_requests_running')
    const waiting = total(metrics, 'gguf_serve_requests_waiting')
    last = `health ${health.status} ${JSON.stringify(busy)}, running ${running}, waiting ${waiting}`
    if (health.status === 200 && busy.length === 0 && running === 0 && waiting === 0) return
    await new Promise((r) => setTimeout(r, 100))
  }
  expect.fail(`server not idle after ${timeoutMs} ms: ${last}`)
}

/** A metric summed over all its series (every model, every label value). */
export function total(samples: Samples, name: string): number {
  let sum = 0
  for (const [key, v] of samples) if (key === name || key.startsWith(`${name}{`)) sum += v
  return sum
}
