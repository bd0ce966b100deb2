/**
 * A single-consumer async queue: the step loop pushes a request's events, the HTTP route drains them.
 * A consumer that stops early (client gone, `break`) runs `onClose`, which is how cancellation reaches
 * the scheduler even without an AbortSignal.
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = []
  private waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null
  private ended = false
  private error: unknown = null
  private closed = false

  constructor(private readonly onClose: () => void) {}

  push(value: T): void {
    if (this.ended) return
    if (this.waiting) {
      const { resolve } = this.waiting
      this.waiting = null
      resolve({ value, done: false })
    } else this.buffer.push(value)
  }

  /** No more events; a pending or later `next()` completes after the buffer drains. */
  end(error: unknown = null): void {
    if (this.ended) return
    this.ended = true
    this.error = error
    if (this.waiting && this.buffer.length === 0) {
      const { resolve, reject } = this.waiting
      this.waiting = null
      if (error) reject(error)
      else resolve({ value: undefined, done: true })
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const value = this.buffer.shift()
        if (value !== undefined) return Promise.resolve({ value, done: false })
        if (this.ended) {
          this.close()
          return this.error ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true })
        }
        return new Promise((resolve, reject) => (this.waiting = { resolve, reject }))
      },
      return: () => {
        this.close()
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    this.ended = true
    this.buffer.length = 0
    this.onClose()
  }
}
