import { describe, expect, it } from 'vitest'
import { buildChatRequest, DEFAULT_SETTINGS, SettingsError } from '../../web/src/chat-request.js'

const history = [{ role: 'user' as const, content: 'Hi' }]

describe('buildChatRequest', () => {
  it('streams with usage and sends only the settings that are filled in', () => {
    expect(buildChatRequest('m', { ...DEFAULT_SETTINGS, maxTokens: '' }, history)).toEqual({
      model: 'm',
      messages: history,
      stream: true,
      stream_options: { include_usage: true },
    })
  })

  it('puts the system prompt first and converts numbers, stop lines and response formats', () => {
    const body = buildChatRequest(
      'm',
      { ...DEFAULT_SETTINGS, systemPrompt: ' Be brief. ', temperature: '0.5', topK: '40', seed: '-3', stop: 'a\n\nb', responseFormat: 'json_object' },
      history,
    )
    expect(body).toMatchObject({
      messages: [{ role: 'system', content: 'Be brief.' }, ...history],
      temperature: 0.5,
      top_k: 40,
      seed: -3,
      max_tokens: 512,
      stop: ['a', 'b'],
      response_format: { type: 'json_object' },
    })
    const schema = buildChatRequest('m', { ...DEFAULT_SETTINGS, responseFormat: 'json_schema', jsonSchema: '{"type":"object"}' }, history)
    expect(schema.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'playground', schema: { type: 'object' }, strict: true } })
  })

  it('refuses values the server would refuse, naming the setting', () => {
    expect(() => buildChatRequest('m', { ...DEFAULT_SETTINGS, topK: '1.5' }, history)).toThrow(new SettingsError('top_k must be an integer, not "1.5".'))
    expect(() => buildChatRequest('m', { ...DEFAULT_SETTINGS, temperature: 'hot' }, history)).toThrow(/temperature must be a number/)
    expect(() => buildChatRequest('m', { ...DEFAULT_SETTINGS, responseFormat: 'json_schema', jsonSchema: '{' }, history)).toThrow(/JSON schema does not parse/)
  })
})
