/**
 * Counts events per key in fixed windows. All keys share one window start, so the whole table is dropped when
 * a window ends: memory is bounded by the keys seen within one window, with no timers to clean up.
 */
export class FixedWindowCounter {
  private counts = new Map<string, number>()
  private windowStart: number

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now()
  }

  count(key: string): number {
    this.roll()
    return this.counts.get(key) ?? 0
  }

  add(key: string): void {
    this.roll()
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }

  /** Whole seconds until the counts start again (at least 1). */
  retryAfterS(): number {
    this.roll()
    return Math.max(1, Math.ceil((this.windowStart + this.windowMs - this.now()) / 1000))
  }

  private roll(): void {
    const elapsed = this.now() - this.windowStart
    if (elapsed < this.windowMs) return
    this.counts.clear()
    this.windowStart += elapsed - (elapsed % this.windowMs)
  }
}
