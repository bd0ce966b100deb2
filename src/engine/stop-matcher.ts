/**
 * Finds stop strings in streamed text without ever releasing a stop string or a prefix of one.
 * Text is held back while its tail could still grow into a stop string (at most the longest stop minus
 * one character), the same holdback vLLM's detokenizer uses; peers that skip it leak `</`-style prefixes.
 */
export interface StopMatch {
  /** Text safe to emit now. */
  emit: string
  /** The stop string found, if any; everything after it is discarded. */
  stop?: string
}

export class StopMatcher {
  private held = ''

  constructor(private readonly stops: readonly string[]) {}

  push(text: string): StopMatch {
    const buffer = this.held + text
    const found = this.earliestStop(buffer)
    if (found) {
      this.held = ''
      return { emit: buffer.slice(0, found.index), stop: found.stop }
    }
    const keep = this.longestStopPrefixSuffix(buffer)
    this.held = buffer.slice(buffer.length - keep)
    return { emit: buffer.slice(0, buffer.length - keep) }
  }

  /** At the end of generation nothing can complete a stop string any more: release what was held. */
  flush(): string {
    const rest = this.held
    this.held = ''
    return rest
  }

  private earliestStop(buffer: string): { index: number; stop: string } | null {
    let best: { index: number; stop: string } | null = null
    for (const stop of this.stops) {
      const index = buffer.indexOf(stop)
      if (index >= 0 && (best === null || index < best.index || (index === best.index && stop.length > best.stop.length))) {
        best = { index, stop }
      }
    }
    return best
  }

  /** Length of the longest tail of `buffer` that is a proper prefix of some stop string. */
  private longestStopPrefixSuffix(buffer: string): number {
    let longest = 0
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > longest; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          longest = n
          break
        }
      }
    }
    return longest
  }
}
