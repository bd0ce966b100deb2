import { describe, expect, it } from 'vitest'
import { decodeChatRequest } from '../src/api/codec/chat-request.js'
import type { ChatCompletionRequest } from '../src/api/schemas/chat.js'
import { InvalidRequestError } from '../src/errors.js'

const LIMITS = { maxChoices: 8, defaults: {}, trustRequestChatTemplate: true }
const decode = (extra: Partial<ChatCompletionRequest>) =>
  decodeChatRequest({ messages: [{ role: 'user', content: 'hi' }], ...extra } as ChatCompletionRequest, 'm', LIMITS)
const template = (extra: Partial<ChatCompletionRequest>) => {
  const { input } = decode(extra)
  if (input.kind !== 'chat') throw new Error('not chat')
  return input.template
}

describe('decodeChatRequest: chat template controls', () => {
  it('defaults: no options at all (the model template, a generation prompt), reasoning reported', () => {
    expect(template({})).toBeUndefined()
    expect(template({ add_generation_prompt: true, chat_template_kwargs: {}, continue_final_message: false })).toBeUndefined()
    expect(template({ reasoning_effort: 'high' })).toEqual({
      source: null,
      variables: {},
      variablesParam: 'chat_template_kwargs',
      reasoningEffort: 'high',
      addGenerationPrompt: true,
      continueFinalMessage: false,
      documents: null,
    })
    expect(decode({}).reportReasoning ?? true).toBe(true)
    expect(decode({ include_reasoning: false }).reportReasoning).toBe(false)
  })

  it('merges chat_template_kwargs over chat_template_args and names the one sent', () => {
    const both = template({ chat_template_kwargs: { a: 1, b: 2 }, chat_template_args: { b: 3, c: 4 } })
    expect(both?.variables).toEqual({ a: 1, b: 2, c: 4 })
    expect(template({ chat_template_args: { c: 4 } })?.variablesParam).toBe('chat_template_args')
  })

  it('continue_final_message implies no generation prompt; with add_generation_prompt true it is a 400', () => {
    expect(template({ continue_final_message: true })).toMatchObject({ continueFinalMessage: true, addGenerationPrompt: false })
    expect(template({ continue_final_message: true, add_generation_prompt: false })).toMatchObject({ continueFinalMessage: true })
    expect(() => decode({ continue_final_message: true, add_generation_prompt: true })).toThrowError(InvalidRequestError)
    try {
      decode({ continue_final_message: true, add_generation_prompt: true })
    } catch (error) {
      expect((error as InvalidRequestError).param).toBe('continue_final_message')
    }
  })

  it('passes the template, effort and documents; history thoughts under either name', () => {
    expect(template({ chat_template: '{{ x }}', reasoning_effort: 'low', documents: [{ title: 't', text: 'x' }] })).toMatchObject({
      source: '{{ x }}',
      reasoningEffort: 'low',
      documents: [{ title: 't', text: 'x' }],
    })
    const { input } = decode({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a', reasoning_content: 'r1' },
        { role: 'assistant', content: 'b', reasoning: 'r2' },
        { role: 'user', content: 'q2', reasoning: 'ignored on user turns' },
      ],
    })
    expect(input.kind === 'chat' && input.messages.map((m) => m.reasoning)).toEqual([undefined, 'r1', 'r2', undefined])
  })
})
