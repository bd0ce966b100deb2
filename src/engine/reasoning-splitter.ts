/** A run of the output, in order: what the model thought, or what it answered. */
export interface ReasoningPiece {
  type: 'reasoning' | 'content'
  text: string
}

export const THINK_OPEN = '<think>'
export const THINK_CLOSE = '</think>'

type State =
  /** Nothing decided yet: leading blanks, or a prefix of the opening marker, are held. */
  | 'start'
  | 'reasoning'
  /** Just after the closing marker: blanks are dropped until the answer starts. */
  | 'closed'
  | 'content'

/**
 * Splits streamed model text into one thinking segment and the answer (Qwen3 / DeepSeek-R1 style:
 * `<think>…</think>` first, then the answer). The segment is recognised only at the start of the output
 * (after blanks); where the prompt already opened it (`startsInside`), the output begins inside it.
 * The markers never reach either part, however the text is split: a possible prefix of a marker is held
 * back, as the stop matcher holds stop strings. Blanks right after `</think>` are dropped.
 *
 * Pure and engine-free: the generation feeds it the decoded text before stops and tool calls see it.
 */
export class ReasoningSplitter {
  private state: State
  private held = ''
  private touched = false
  private out: ReasoningPiece[] = []

  constructor(startsInside: boolean) {
    this.state = startsInside ? 'reasoning' : 'start'
  }

  /** Inside the thinking segment (its opening seen or implied, its closing not yet). */
  get inReasoning(): boolean {
    return this.state === 'reasoning'
  }

  /** Still deciding whether the output opens a thinking segment. */
  get undecided(): boolean {
    return this.state === 'start'
  }

  /** The last `push` read text inside the segment (it was inside before, after, or in between). */
  get touchedReasoning(): boolean {
    return this.touched
  }

  push(text: string): ReasoningPiece[] {
    this.out = []
    this.touched = this.state === 'reasoning'
    let rest = this.held + text
    this.held = ''
    while (rest) rest = this.step(rest)
    return this.take()
  }

  /** The text ended: held text is what it looked like (a marker prefix that never completed is text). */
  finish(): ReasoningPiece[] {
    this.out = []
    if (this.held) this.emit(this.state === 'reasoning' ? 'reasoning' : 'content', this.held)
    this.held = ''
    return this.take()
  }

  /** Consumes some of `text` (held text already prepended); returns the rest for the next state. */
  private step(text: string): string {
    switch (this.state) {
      case 'start': {
        const first = text.search(/\S/)
        if (first < 0) {
          this.held = text
          return ''
        }
        const body = text.slice(first)
        if (body.startsWith(THINK_OPEN)) {
          this.state = 'reasoning'
          this.touched = true
          return body.slice(THINK_OPEN.length)
        }
        if (THINK_OPEN.startsWith(body)) {
          this.held = text
          return ''
        }
        this.state = 'content'
        return text
      }
      case 'reasoning': {
        const at = text.indexOf(THINK_CLOSE)
        if (at >= 0) {
          this.emit('reasoning', text.slice(0, at))
          this.state = 'closed'
          return text.slice(at + THINK_CLOSE.length)
        }
        const keep = markerPrefixAtEnd(text, THINK_CLOSE)
        this.held = text.slice(text.length - keep)
        this.emit('reasoning', text.slice(0, text.length - keep))
        return ''
      }
      case 'closed': {
        const first = text.search(/\S/)
        if (first < 0) return ''
        this.state = 'content'
        return text.slice(first)
      }
      case 'content':
        this.emit('content', text)
        return ''
    }
  }

  private emit(type: ReasoningPiece['type'], text: string): void {
    if (!text) return
    const last = this.out.at(-1)
    if (last?.type === type) last.text += text
    else this.out.push({ type, text })
  }

  private take(): ReasoningPiece[] {
    const out = this.out
    this.out = []
    return out
  }
}

/** Length of the longest tail of `text` that is a proper prefix of `marker`. */
function markerPrefixAtEnd(text: string, marker: string): number {
  for (let n = Math.min(marker.length - 1, text.length); n > 0; n--) if (text.endsWith(marker.slice(0, n))) return n
  return 0
}
