import { createHash } from 'node:crypto'
import { mkdtemp, open, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  ChatMLChatWrapper,
  getLlama,
  LlamaLogLevel,
  readGgufFileInfo,
  resolveChatWrapper,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeF16, f32ToF16, quantizeQ8_0, writeGguf } from '../src/gguf/gguf-writer.js'
import { ensureSyntheticModel } from '../src/gguf/make-model.js'
import { SPM_VOCAB, SpmTokenType } from '../src/gguf/spm-vocab.js'
import { SYNTHETIC_LLAMA_PRESETS, writeSyntheticLlama } from '../src/gguf/synthetic-llama.js'

let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-writer-test-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const sha256 = async (path: string): Promise<string> => createHash('sha256').update(await readFile(path)).digest('hex')

describe('f16 encoding', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [65504, 0x7bff],
    [65520, 0x7c00], // halfway to the next step rounds up to infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie with zero rounds to even
    [3 * 2 ** -26, 0x0001],
    [1 + 2 ** -11, 0x3c00], // tie rounds to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie rounds to even (up)
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [NaN, 0x7e00],
  ])('%d -> %s', (value, bits) => {
    expect(f32ToF16(value)).toBe(bits)
  })

  it('writes little-endian halves', () => {
    const out = new Uint8Array(6)
    encodeF16(Float32Array.of(1, -2), out, 2)
    expect([...out]).toEqual([0, 0, 0x00, 0x3c, 0x00, 0xc0])
  })
})

describe('Q8_0 quantization', () => {
  it('stores an fp16 scale and roundf-rounded int8 quants per 32-value block', () => {
    const input = new Float32Array(96)
    // Block 0: max 127, so d = 1 and quants are the rounded inputs (halves away from zero).
    input.set([127, -127, 2.5, -2.5, 0.49, -0.5, 3.7, -3.2])
    // Block 1 stays all zero: d = 0 and every quant 0.
    // Block 2: max 63.5, so d = 0.5 and quants are twice the inputs.
    input.set([63.5, 1.25, -0.75, 0.2], 64)
    const out = new Uint8Array(3 * 34)
    quantizeQ8_0(input, out)
    const quants = (block: number): number[] => [...new Int8Array(out.buffer, block * 34 + 2, 32)]
    const scale = (block: number): number => out[block * 34]! | (out[block * 34 + 1]! << 8)

    expect(scale(0)).toBe(0x3c00)
    expect(quants(0).slice(0, 9)).toEqual([127, -127, 3, -3, 0, -1, 4, -3, 0])
    expect(scale(1)).toBe(0)
    expect(quants(1)).toEqual(new Array(32).fill(0))
    expect(scale(2)).toBe(0x3800)
    expect(quants(2).slice(0, 5)).toEqual([127, 3, -2, 0, 0])
  })

  it('rejects input that is not whole blocks', () => {
    expect(() => quantizeQ8_0(new Float32Array(33), new Uint8Array(68))).toThrow(/multiple of 32/)
  })
})

describe('writeGguf', () => {
  it('writes typed metadata and aligned tensor data that a GGUF reader parses back', async () => {
    const path = join(dir, 'layout.gguf')
    const ramp = (out: Float32Array, offset: number): void => {
      for (let i = 0; i < out.length; i++) out[i] = offset + i
    }
    await writeGguf(path, {
      alignment: 64,
      metadata: [
        { key: 'general.architecture', type: 'string', value: 'test' },
        { key: 'test.u32', type: 'uint32', value: 4_000_000_000 },
        { key: 'test.i32', type: 'int32', value: -7 },
        { key: 'test.f32', type: 'float32', value: 0.5 },
        { key: 'test.flag', type: 'bool', value: true },
        { key: 'test.u64', type: 'uint64', value: 2n ** 40n },
        { key: 'test.strings', type: 'string[]', value: ['a', 'ü▁'] },
        { key: 'test.floats', type: 'float32[]', value: [1.5, -2] },
        { key: 'test.ints', type: 'int32[]', value: [3, -4] },
      ],
      tensors: [
        { name: 'odd', dims: [3], type: 'F32', fill: ramp },
        { name: 'half', dims: [4, 2], type: 'F16', fill: ramp },
        { name: 'quant', dims: [32, 2], type: 'Q8_0', fill: ramp },
      ],
    })

    const info = await readGgufFileInfo(path, { sourceType: 'filesystem', logWarnings: false })
    expect(info.version).toBe(3)
    expect(info.metadata.general.alignment).toBe(64)
    const test = (info.metadata as unknown as { test: Record<string, unknown> }).test
    expect(test).toMatchObject({
      u32: 4_000_000_000,
      i32: -7,
      f32: 0.5,
      flag: true,
      strings: ['a', 'ü▁'],
      floats: [1.5, -2],
      ints: [3, -4],
    })
    expect(BigInt(test.u64 as number | bigint)).toBe(2n ** 40n)

    const tensors = info.tensorInfo ?? []
    const layout = tensors.map(({ name, dimensions, ggmlType, offset }) => [
      name,
      dimensions.map(Number),
      ggmlType,
      Number(offset),
    ])
    expect(layout).toEqual([
      ['odd', [3], 0, 0],
      ['half', [4, 2], 1, 64],
      ['quant', [32, 2], 8, 128],
    ])
    expect(Number(info.infoEndOffset) % 64).toBe(0)

    const file = await open(path, 'r')
    try {
      const read = async (offset: number, length: number): Promise<Buffer> => {
        const { buffer } = await file.read(Buffer.alloc(length), 0, length, offset)
        return buffer
      }
      const fileOffset = (index: number): number => Number(tensors[index]!.fileOffset)
      const odd = await read(fileOffset(0), 12)
      expect([0, 1, 2].map((i) => odd.readFloatLE(i * 4))).toEqual([0, 1, 2])
      const half = await read(fileOffset(1), 16)
      expect(half.readUInt16LE(14)).toBe(f32ToF16(7))
      const quant = await read(fileOffset(2), 68)
      const expected = Buffer.alloc(68)
      quantizeQ8_0(Float32Array.from({ length: 64 }, (_, i) => i), expected)
      expect(quant.equals(expected)).toBe(true)
      // The last tensor (two 34-byte blocks) is padded to the alignment too.
      expect((await file.stat()).size).toBe(Number(info.infoEndOffset) + 128 + 128)
    } finally {
      await file.close()
    }
  })

  it('rejects Q8_0 rows that are not whole blocks', async () => {
    await expect(
      writeGguf(join(dir, 'bad.gguf'), {
        metadata: [],
        tensors: [{ name: 'x', dims: [16, 2], type: 'Q8_0', fill: () => {} }],
      }),
    ).rejects.toThrow(/multiple of 32/)
  })
})

describe('synthetic llama (tiny preset)', () => {
  let model: LlamaModel
  let tinyPath: string

  beforeAll(async () => {
    tinyPath = await ensureSyntheticModel(join(dir, 'tiny.gguf'), 'tiny', { seed: 1 })
    // One thread: tiny models get dramatically slower with more threads on small machines.
    const llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error })
    model = await llama.loadModel({ modelPath: tinyPath })
  })

  afterAll(async () => {
    await model?.dispose()
  })

  it('tokenizes common words into single pieces and round-trips', () => {
    const text = 'Once upon a time'
    const tokens = model.tokenize(text)
    expect(tokens.map((token) => SPM_VOCAB.tokens[token])).toEqual(['▁Once', '▁upon', '▁a', '▁time'])
    expect(model.detokenize(tokens)).toBe(text)
  })

  it('round-trips multi-byte UTF-8 through the byte-fallback tokens', () => {
    const text = 'héllo 😀 日本\nnew line'
    const tokens = model.tokenize(text)
    expect(tokens.some((token) => SPM_VOCAB.tokenTypes[token] === SpmTokenType.BYTE)).toBe(true)
    expect(model.detokenize(tokens)).toBe(text)
  })

  it('parses ChatML markers as single special tokens only when asked to', () => {
    expect(model.tokenize('<|im_start|>', true)).toEqual([SPM_VOCAB.imStartId])
    expect(model.tokenize('<|im_end|>', true)).toEqual([SPM_VOCAB.imEndId])
    expect(model.tokenize('<|im_start|>').length).toBeGreaterThan(1)
    expect(model.isEogToken(SPM_VOCAB.imEndId as Token)).toBe(true)
    expect(model.isEogToken(SPM_VOCAB.eosId as Token)).toBe(true)
    expect(model.tokens.bos).toBe(SPM_VOCAB.bosId)
  })

  it('exposes the ChatML template so node-llama-cpp picks its ChatML wrapper', () => {
    expect(resolveChatWrapper(model)).toBeInstanceOf(ChatMLChatWrapper)
  })

  it('generates varied, deterministic word pieces with greedy decoding', async () => {
    const context = await model.createContext({ contextSize: 256, threads: 1 })
    try {
      const generate = async (): Promise<Token[]> => {
        const sequence = context.getSequence()
        const out: Token[] = []
        try {
          for await (const token of sequence.evaluate(model.tokenize('Once upon a time', false), { temperature: 0 })) {
            out.push(token)
            if (out.length === 20) break
          }
        } finally {
          sequence.dispose()
        }
        return out
      }
      const first = await generate()
      const second = await generate()
      expect(first).toHaveLength(20)
      expect(second).toEqual(first)
      expect(new Set(first).size).toBeGreaterThan(5)
      // The output head never favours control or byte tokens, so generation does not stop early.
      expect(first.every((token) => SPM_VOCAB.tokenTypes[token] === SpmTokenType.NORMAL)).toBe(true)
    } finally {
      await context.dispose()
    }
  })

  it('writes byte-identical files for the same seed and different ones for another seed', async () => {
    const paths = ['seed-1-a', 'seed-1-b', 'seed-2'].map((name) => join(dir, `${name}.gguf`))
    const seeds = [1, 1, 2]
    await Promise.all(
      paths.map((path, i) => writeSyntheticLlama(path, { ...SYNTHETIC_LLAMA_PRESETS.tiny, seed: seeds[i] })),
    )
    const [base, same, different] = await Promise.all(paths.map((path) => readFile(path)))
    expect(same!.equals(base!)).toBe(true)
    // Compare the tail (inside output.weight), not just the header, which records the seed.
    expect(different!.subarray(-65_536).equals(base!.subarray(-65_536))).toBe(false)
  })

  it('keeps an up-to-date cached model and rewrites one made with other settings', async () => {
    const path = join(dir, 'cached.gguf')
    await ensureSyntheticModel(path, 'tiny', { seed: 1 })
    const written = (await stat(path)).mtimeMs
    await ensureSyntheticModel(path, 'tiny', { seed: 1 })
    expect((await stat(path)).mtimeMs).toBe(written)
    expect(await sha256(path)).toBe(await sha256(tinyPath))

    await ensureSyntheticModel(path, 'tiny', { seed: 2 })
    expect(await sha256(path)).not.toBe(await sha256(tinyPath))
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })
})
