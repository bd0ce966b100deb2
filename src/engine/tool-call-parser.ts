import type { NamedBody, ToolCallFormat } from './tool-call-formats.js'

/** What the parser reads out of the model's text, in order. */
export type ToolParseEvent =
  | { type: 'content'; text: string }
  /** A call begins: its name is complete, no argument text has been read yet. */
  | { type: 'call'; index: number; name: string }
  /** More of call `index`'s arguments JSON, verbatim; the fragments concatenate to the whole value. */
  | { type: 'arguments'; index: number; text: string }

type Slot = 'key' | 'colon' | 'value-start' | 'value'

/**
 * Reads streamed model text in one tool-call format: content before the first call goes out as
 * content, the calls as call starts and argument fragments. Text that could still be the start of the
 * format's marker is held back (as stop strings are), so a marker never reaches the content, however
 * the text is split. A call's start is reported once its name is complete and its arguments stream
 * character-exact, so a client concatenating the fragments gets valid JSON (`{}` for a call whose text
 * has no arguments). Anything between and after calls (closing tags, separators) is dropped. A `named`
 * format's call is its name as text up to `nameClose`, then the arguments object, streamed as written.
 *
 * Pure and engine-free: the generation feeds it the text it would otherwise emit.
 */
export class ToolCallParser {
  private mode: 'text' | 'leading' | 'plain' | 'between' | 'call' | 'name' | 'args' = 'text'
  private held = ''
  private callCount = 0
  // State of the call being read (a JSON object scanned character by character).
  private depth = 0
  private inString = false
  private escaped = false
  private slot: Slot = 'key'
  private key = ''
  private value: 'key' | 'name' | 'args' | 'skip' = 'skip'
  private nameText = ''
  private name: string | null = null
  private argsSeen = false
  private argsPending = ''
  private blanks = ''
  private out: ToolParseEvent[] = []

  constructor(private readonly format: ToolCallFormat) {
    if (format.marker === null) this.mode = 'leading'
  }

  /** Calls started so far. */
  get calls(): number {
    return this.callCount
  }

  push(text: string): ToolParseEvent[] {
    this.out = []
    let rest = text
    while (rest) rest = this.step(rest)
    return this.flushOut()
  }

  /** The text ended: what was held back is content if no call started (a truncated call stays as it is). */
  finish(): ToolParseEvent[] {
    this.out = []
    if (this.mode === 'text' || this.mode === 'leading' || this.mode === 'plain') this.content(this.held)
    this.held = ''
    return this.flushOut()
  }

  /** Consumes some of `text` in the current mode; returns what is left for the next mode. */
  private step(text: string): string {
    switch (this.mode) {
      case 'text':
        return this.scanText(text)
      case 'leading': {
        // No marker: a `{` as the first non-blank character starts the calls, anything else is text.
        const buffer = this.held + text
        const first = buffer.search(/\S/)
        if (first < 0) {
          this.held = buffer
          return ''
        }
        this.held = ''
        if (buffer[first] === '{') {
          this.mode = 'between'
          return buffer.slice(first)
        }
        this.mode = 'plain'
        this.content(buffer)
        return ''
      }
      case 'plain':
        this.content(text)
        return ''
      case 'between': {
        if (this.format.body.kind === 'named') return this.findCallOpen(text)
        const open = text.indexOf('{')
        if (open < 0) return ''
        this.startCall()
        return text.slice(open)
      }
      case 'call':
        return this.scanCall(text)
      case 'name':
        return this.readName(text, this.format.body as NamedBody)
      case 'args':
        return this.scanArguments(text)
    }
  }

  /** Named formats: the next call starts at `callOpen` (text between calls is dropped). */
  private findCallOpen(text: string): string {
    const open = this.format.callOpen
    const buffer = this.held + text
    const at = buffer.indexOf(open)
    if (at < 0) {
      this.held = buffer.slice(Math.max(0, buffer.length - open.length + 1))
      return ''
    }
    this.held = ''
    this.mode = 'name'
    return buffer.slice(at + open.length)
  }

  /** Named formats: the name runs up to `nameClose`; the call is reported once it is whole. */
  private readName(text: string, body: NamedBody): string {
    const buffer = this.held + text
    const at = buffer.indexOf(body.nameClose)
    if (at < 0) {
      this.held = buffer
      return ''
    }
    this.held = ''
    let name = buffer.slice(0, at)
    if (body.idMarker !== null && name.includes(body.idMarker)) name = name.slice(0, name.indexOf(body.idMarker))
    if (body.namePrefix && name.startsWith(body.namePrefix)) name = name.slice(body.namePrefix.length)
    if (body.indexSuffix) name = name.replace(/:\d+$/, '')
    this.out.push({ type: 'call', index: this.callCount++, name: name.trim() })
    this.mode = 'args'
    this.depth = 0
    this.inString = false
    this.escaped = false
    return buffer.slice(at + body.nameClose.length)
  }

  /** Named formats: the arguments object, every character of it streamed, up to its closing brace. */
  private scanArguments(text: string): string {
    let from = 0
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!
      if (this.depth === 0) {
        // Before the object's opening brace: blanks, skipped.
        if (c !== '{') {
          from = i + 1
          continue
        }
      }
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === '\\') this.escaped = true
        else if (c === '"') this.inString = false
      } else if (c === '"') this.inString = true
      else if (c === '{' || c === '[') this.depth++
      else if (c === '}' || c === ']') this.depth--
      if (this.depth === 0) {
        this.pushArguments(text.slice(from, i + 1))
        this.mode = 'between'
        return text.slice(i + 1)
      }
    }
    if (from < text.length) this.pushArguments(text.slice(from))
    return ''
  }

  private scanText(text: string): string {
    const marker = this.format.marker!
    const buffer = this.held + text
    const at = buffer.indexOf(marker)
    if (at >= 0) {
      this.held = ''
      this.content(buffer.slice(0, at))
      this.mode = 'between'
      // A named format looks for its call opener next, which may be (or follow) the marker.
      return buffer.slice(this.format.body.kind === 'named' ? at : at + marker.length)
    }
    let keep = Math.min(marker.length - 1, buffer.length)
    while (keep > 0 && !buffer.endsWith(marker.slice(0, keep))) keep--
    this.held = buffer.slice(buffer.length - keep)
    this.content(buffer.slice(0, buffer.length - keep))
    return ''
  }

  private startCall(): void {
    this.mode = 'call'
    this.depth = 0
    this.inString = false
    this.escaped = false
    this.slot = 'key'
    this.key = ''
    this.value = 'skip'
    this.nameText = ''
    this.name = null
    this.argsSeen = false
    this.argsPending = ''
    this.blanks = ''
  }

  private scanCall(text: string): string {
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!
      if (this.inString) {
        this.take(c)
        if (this.escaped) this.escaped = false
        else if (c === '\\') this.escaped = true
        else if (c === '"') {
          this.inString = false
          if (this.depth === 1) this.stringClosedAtTop()
        }
        continue
      }
      if (this.depth === 0) {
        // Before the call's opening brace (only `{` gets here, see 'between').
        if (c === '{') this.depth = 1
        continue
      }
      if (this.depth === 1) {
        switch (this.slot) {
          case 'key':
            if (c === '"') {
              this.inString = true
              this.value = 'key'
              this.key = ''
            } else if (c === '}') {
              this.endCall()
              return text.slice(i + 1)
            }
            continue
          case 'colon':
            if (c === ':') this.slot = 'value-start'
            continue
          case 'value-start':
            if (/\s/.test(c)) continue
            this.slot = 'value'
            this.value = this.key === this.jsonBody.nameKey ? 'name' : this.key === this.jsonBody.argumentsKey ? 'args' : 'skip'
            if (this.value === 'args') this.argsSeen = true
            break
          case 'value':
            if (c === ',' || c === '}') {
              this.blanks = ''
              this.slot = 'key'
              this.value = 'skip'
              if (c === '}') {
                this.endCall()
                return text.slice(i + 1)
              }
              continue
            }
            if (/\s/.test(c)) {
              this.blanks += c
              continue
            }
        }
      }
      if (this.blanks) {
        const blanks = this.blanks
        this.blanks = ''
        for (const b of blanks) this.take(b)
      }
      if (c === '"') this.inString = true
      else if (c === '{' || c === '[') this.depth++
      else if (c === '}' || c === ']') this.depth--
      this.take(c)
    }
    return ''
  }

  private get jsonBody(): { nameKey: string; argumentsKey: string } {
    return this.format.body as { nameKey: string; argumentsKey: string }
  }

  /** A character of the current key or value. */
  private take(c: string): void {
    switch (this.value) {
      case 'key':
        this.key += c
        return
      case 'name':
        this.nameText += c
        return
      case 'args':
        this.argsPending += c
        if (this.name !== null) this.releaseArguments()
        return
      case 'skip':
        return
    }
  }

  private stringClosedAtTop(): void {
    if (this.value === 'key') {
      // The key's characters were taken with its closing quote, not its opening one.
      this.key = parseString(`"${this.key}`)
      this.slot = 'colon'
      this.value = 'skip'
    } else if (this.value === 'name' && this.name === null) {
      this.name = parseString(this.nameText)
      this.out.push({ type: 'call', index: this.callCount++, name: this.name })
      this.releaseArguments()
    }
  }

  private releaseArguments(): void {
    if (!this.argsPending) return
    this.pushArguments(this.argsPending)
    this.argsPending = ''
  }

  private pushArguments(text: string): void {
    const index = this.callCount - 1
    const last = this.out.at(-1)
    if (last?.type === 'arguments' && last.index === index) last.text += text
    else this.out.push({ type: 'arguments', index, text })
  }

  private endCall(): void {
    if (this.name !== null && !this.argsSeen) this.pushArguments('{}')
    this.mode = 'between'
  }

  private content(text: string): void {
    if (!text) return
    const last = this.out.at(-1)
    if (last?.type === 'content') last.text += text
    else this.out.push({ type: 'content', text })
  }

  private flushOut(): ToolParseEvent[] {
    const out = this.out
    this.out = []
    return out
  }
}

/** A JSON string literal's value; a malformed one (not possible under the grammar) is kept as written. */
function parseString(literal: string): string {
  try {
    const value: unknown = JSON.parse(literal)
    return typeof value === 'string' ? value : literal
  } catch {
    return literal
  }
}
