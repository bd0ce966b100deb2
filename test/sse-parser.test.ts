import { describe, expect, it } from 'vitest'
import { SseParser } from '../src/api/sse-parser.js'

describe('SseParser', () => {
  it('yields each event once its blank line arrives, however the chunks split it', () => {
    const stream = 'data: {"a":1}\n\n: ping\n\ndata: {"b":2}\r\n\r\ndata: [DONE]\n\n'
    for (const size of [1, 3, 7, stream.length]) {
      const parser = new SseParser()
      const events: string[] = []
      for (let i = 0; i < stream.length; i += size) events.push(...parser.push(stream.slice(i, i + size)))
      expect(events, `chunks of ${size}`).toEqual(['{"a":1}', '{"b":2}', '[DONE]'])
    }
  })

  it('joins multi-line data, skips other fields and keeps an unfinished event for later', () => {
    const parser = new SseParser()
    expect(parser.push('event: message\nid: 7\ndata: one\ndata:two\n\ndata: three')).toEqual(['one\ntwo'])
    expect(parser.push('\n\n')).toEqual(['three'])
  })
})
