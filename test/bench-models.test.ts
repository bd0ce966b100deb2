import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getLlama, LlamaLogLevel, readGgufFileInfo, type LlamaModel, type Token } from 'node-llama-cpp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { paddedSpmVocab, SPM_VOCAB, SpmTokenType } from '../src/gguf/spm-vocab.js'
import { SYNTHETIC_LLAMA_PRESETS, syntheticLlamaParameterCount, writeSyntheticLlama } from '../src/gguf/synthetic-llama.js'

describe('benchmark model shapes', () => {
  it('Llama-3.2-1B: 1.24 B parameters with its real vocabulary size and tied embeddings', () => {
    const preset = SYNTHETIC_LLAMA_PRESETS['llama1b-shape']
    expect(preset).toMatchObject({ hiddenSize: 2048, layers: 16, heads: 32, kvHeads: 8, ffnSize: 8192, vocabularySize: 128_256, tiedEmbeddings: true })
    // Llama 3.2 1B has 1,235,814,400 parameters; ours adds nothing and leaves nothing out.
    expect(syntheticLlamaParameterCount(preset)).toBe(1_235_814_400)
  })

  it('pads the vocabulary with distinct fillers and keeps the built-in pieces in place', () => {
    const vocab = paddedSpmVocab(5000)
    expect(vocab.tokens).toHaveLength(5000)
    expect(new Set(vocab.tokens).size).toBe(5000)
    expect(vocab.tokens.slice(0, SPM_VOCAB.tokens.length)).toEqual(SPM_VOCAB.tokens)
    expect(vocab.tokenTypes.slice(SPM_VOCAB.tokens.length).every((t) => t === SpmTokenType.NORMAL)).toBe(true)
    expect(paddedSpmVocab(SPM_VOCAB.tokens.length)).toBe(SPM_VOCAB)
    expect(() => paddedSpmVocab(10)).toThrow(RangeError)
  })
})

describe('a tied, padded-vocabulary model', () => {
  let dir: string
  let model: LlamaModel
  let path: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-models-test-'))
    path = join(dir, 'tied.gguf')
    await writeSyntheticLlama(path, { ...SYNTHETIC_LLAMA_PRESETS.tiny, vocabularySize: 4096, tiedEmbeddings: true })
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error })
    model = await llama.loadModel({ modelPath: path })
  })

  afterAll(async () => {
    await model?.dispose()
    await rm(dir, { recursive: true, force: true })
  })

  it('has no output head of its own and the padded vocabulary', async () => {
    const info = await readGgufFileInfo(path, { readTensorInfo: true, ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'] })
    expect(info.tensorInfo!.map((t) => t.name)).not.toContain('output.weight')
    expect([...model.iterateAllTokens()]).toHaveLength(4096)
  })

  it('tokenizes text exactly as the built-in vocabulary does (fillers are unreachable)', () => {
    const text = 'Once upon a time 1a 0000 zz9 héllo \uF000 0abc'
    const tokens = model.tokenize(text)
    expect(tokens.every((t) => t < SPM_VOCAB.tokens.length)).toBe(true)
    expect(model.detokenize(tokens)).toBe(text)
  })

  it('generates word pieces only', async () => {
    const context = await model.createContext({ contextSize: 128, threads: 1 })
    try {
      const out: Token[] = []
      for await (const token of context.getSequence().evaluate(model.tokenize('Once upon a time', false), { temperature: 1, seed: 3 })) {
        out.push(token)
        if (out.length === 16) break
      }
      expect(out.every((t) => paddedSpmVocab(4096).tokenTypes[t] === SpmTokenType.NORMAL)).toBe(true)
    } finally {
      await context.dispose()
    }
  })
})
