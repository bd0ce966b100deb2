import { expect } from 'vitest'

/** Polls `check` until it holds, failing after `timeoutMs`: generous by default, since CI shares two cores. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  // A short interval, so a test can catch a state that does not last long (a download part-way through).
  await expect.poll(check, { timeout: timeoutMs, interval: 10 }).toBe(true)
}

/** Everything an async iterable yields, in order (Array.fromAsync needs Node 22). */
export async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of source) out.push(item)
  return out
}
