import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SPM_VOCAB } from '../src/gguf/spm-vocab.js'
import { postJson, startTestServer, type TestServer } from './helpers/test-server.js'

let t: TestServer
const MODEL = 'tiny-chat'
/** The tiny model's hidden size (test/global-setup.ts: the `tiny` preset). */
const SIZE = 64
/** startTestServer's --context-size. */
const CONTEXT = 1024

beforeAll(async () => {
  t = await startTestServer()
})
afterAll(() => t?.close())

const norm = (v: readonly number[]) => Math.hypot(...v)
const cosine = (a: readonly number[], b: readonly number[]) => a.reduce((sum, x, i) => sum + x * b[i]!, 0) / (norm(a) * norm(b))
const embed = async (input: string | string[] | number[] | number[][], extra: { dimensions?: number } = {}) =>
  t.client.embeddings.create({ model: MODEL, input, encoding_format: 'float', ...extra })
const vector = async (input: string | number[], extra: { dimensions?: number } = {}) => (await embed(input, extra)).data[0]!.embedding
const tokenize = async (prompt: string, addSpecial = true): Promise<number[]> =>
  (await postJson(t.origin, '/tokenize', { prompt, add_special_tokens: addSpecial })).json.tokens

describe('embeddings', () => {
  it("answers a string in OpenAI's shape, usage counting the evaluated tokens", async () => {
    const res = await embed('The girl played in the park')
    expect(res.object).toBe('list')
    expect(res.model).toBe(MODEL)
    expect(res.data).toHaveLength(1)
    expect(res.data[0]!.object).toBe('embedding')
    expect(res.data[0]!.index).toBe(0)
    expect(res.data[0]!.embedding).toHaveLength(SIZE)
    const tokens = await tokenize('The girl played in the park')
    expect(res.usage).toEqual({ prompt_tokens: tokens.length, total_tokens: tokens.length })
  })

  it('answers a batch with one vector per input, in input order', async () => {
    const inputs = ['hello world', 'the red ball', 'Once upon a time', 'hello world']
    const res = await embed(inputs)
    expect(res.data.map((d) => d.index)).toEqual([0, 1, 2, 3])
    for (const [i, input] of inputs.entries()) expect(res.data[i]!.embedding).toEqual(await vector(input))
    expect(res.data[3]!.embedding).toEqual(res.data[0]!.embedding)
  })

  it('concurrent batches do not disturb each other', async () => {
    const batches = [0, 1, 2, 3].map((b) => Array.from({ length: 6 }, (_, i) => `story ${b} part ${i} about a dog`))
    const alone = []
    for (const batch of batches) alone.push(await embed(batch))
    const together = await Promise.all(batches.map((batch) => embed(batch)))
    expect(together.map((r) => r.data)).toEqual(alone.map((r) => r.data))
  })

  it("float and base64 (the Node SDK's default, decoded by it) give the same vectors", async () => {
    const inputs = ['a happy little bird', 'the sun in the sky']
    const floats = await t.client.embeddings.create({ model: MODEL, input: inputs, encoding_format: 'float' })
    const decoded = await t.client.embeddings.create({ model: MODEL, input: inputs })
    expect(decoded.data.map((d) => d.embedding)).toEqual(floats.data.map((d) => d.embedding))
    const raw = await postJson(t.origin, '/v1/embeddings', { input: inputs[0], encoding_format: 'base64' })
    const bytes = Buffer.from(raw.json.data[0].embedding, 'base64')
    expect(bytes.length).toBe(SIZE * 4)
    expect(Array.from({ length: SIZE }, (_, i) => bytes.readFloatLE(i * 4))).toEqual(floats.data[0]!.embedding)
  })

  it('vectors have unit norm; identical inputs have cosine 1, different ones less', async () => {
    const [a, b, c] = [await vector('the dog ran home'), await vector('the dog ran home'), await vector('a fish in the water')]
    for (const v of [a, b, c]) expect(norm(v)).toBeCloseTo(1, 6)
    expect(Math.abs(cosine(a, b) - 1)).toBeLessThan(1e-6)
    expect(cosine(a, c)).toBeLessThan(1 - 1e-3)
  })

  it('dimensions keeps the renormalised prefix of the full vector', async () => {
    const full = await vector('a big green tree')
    for (const dimensions of [1, 16, 48]) {
      const cut = await vector('a big green tree', { dimensions })
      expect(cut).toHaveLength(dimensions)
      expect(norm(cut)).toBeCloseTo(1, 6)
      const prefix = full.slice(0, dimensions)
      cut.forEach((x, i) => expect(x).toBeCloseTo(prefix[i]! / norm(prefix), 6))
    }
    expect(await vector('a big green tree', { dimensions: SIZE })).toEqual(full)
  })

  it('dimensions beyond the model, or below 1, is a 400 naming dimensions', async () => {
    for (const dimensions of [SIZE + 1, 0]) {
      const res = await postJson(t.origin, '/v1/embeddings', { model: MODEL, input: 'hi', dimensions })
      expect(res.status).toBe(400)
      expect(res.json.error.param).toBe('dimensions')
    }
  })

  it('token ids embed like the text they were tokenized from, with or without add_special_tokens', async () => {
    const text = 'Lily and Tom went to the park <|im_end|> then home'
    const fromText = await embed(text)
    for (const addSpecial of [true, false]) {
      const fromIds = await embed(await tokenize(text, addSpecial))
      expect(fromIds.data[0]!.embedding).toEqual(fromText.data[0]!.embedding)
      expect(fromIds.usage).toEqual(fromText.usage)
    }
    const batch = await embed([await tokenize('hello world'), await tokenize('the red ball')])
    expect(batch.data.map((d) => d.embedding)).toEqual([await vector('hello world'), await vector('the red ball')])
  })

  it('an input as long as the context embeds; a longer one is a 400 context_length_exceeded naming the input', async () => {
    const fits = [SPM_VOCAB.bosId, ...(await tokenize('hello '.repeat(CONTEXT), false)).slice(0, CONTEXT - 1)]
    expect((await embed(fits)).usage.prompt_tokens).toBe(CONTEXT)
    const cases: Array<[unknown, string]> = [
      [[...fits, fits[1]!], 'input'],
      [['short', 'hello '.repeat(CONTEXT)], 'input[1]'],
      // Megabytes of text are refused before tokenizing, by the fewest tokens they could be.
      [['short', 'hello '.repeat(1_000_000)], 'input[1]'],
    ]
    for (const [input, param] of cases) {
      const res = await postJson(t.origin, '/v1/embeddings', { model: MODEL, input })
      expect(res.status).toBe(400)
      expect(res.json.error).toMatchObject({ param, code: 'context_length_exceeded' })
    }
  })

  it('empty input, an empty item, or ids outside the vocabulary are a 400 naming input', async () => {
    for (const input of ['', [], ['a', ''], [[1, 2], []], [SPM_VOCAB.tokens.length], [[5], [-1]]]) {
      const res = await postJson(t.origin, '/v1/embeddings', { model: MODEL, input })
      expect(res.status, JSON.stringify(input)).toBe(400)
      expect(res.json.error.param).toBe('input')
    }
  })

  it('is served under every base path and lists ignored fields', async () => {
    for (const path of ['/embeddings', '/v1/embeddings', '/v1/openai/embeddings']) {
      const res = await postJson(t.origin, path, { input: 'hi', user: 'u1', truncate: 'END' })
      expect(res.status).toBe(200)
      expect(res.json.model).toBe(MODEL)
      expect(res.headers.get('x-ignored-params')).toBe('truncate')
    }
  })
})
