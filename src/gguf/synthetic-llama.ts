import {
  writeGguf,
  type GgufMetadataEntry,
  type GgufSpec,
  type GgufTensorSpec,
  type GgufTensorType,
} from './gguf-writer.js'
import { paddedSpmVocab, SPM_VOCAB, SpmTokenType, type SpmVocab } from './spm-vocab.js'

/** The standard ChatML template (as used by Qwen and others), which node-llama-cpp maps to its ChatML wrapper. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

export interface SyntheticLlamaOptions {
  name?: string
  hiddenSize: number
  layers: number
  heads: number
  kvHeads: number
  ffnSize: number
  contextLength: number
  /** Storage type of the 2-D weights; norm weights are always F32. */
  tensorType: GgufTensorType
  /** Weights are a pure function of (seed, tensor name, index). Defaults to 0. */
  seed?: number
  /** Defaults to ChatML; `null` writes no template. */
  chatTemplate?: string | null
  ropeFreqBase?: number
  rmsNormEps?: number
  /** Tokens in the vocabulary: the built-in one padded with unreachable filler pieces. Defaults to the built-in size. */
  vocabularySize?: number
  /**
   * The output head reuses token_embd, as in Llama 3.2 1B (a smaller file, the same compute). Random tied
   * weights mostly predict the input token again, which benchmarks do not mind. Defaults to false.
   */
  tiedEmbeddings?: boolean
}

/** Qwen2.5-0.5B's transformer shape (not its vocabulary or biases). */
const QWEN05B_SHAPE = {
  hiddenSize: 896,
  layers: 24,
  heads: 14,
  kvHeads: 2,
  ffnSize: 4864,
  contextLength: 32768,
  tensorType: 'Q8_0',
  ropeFreqBase: 1_000_000,
  rmsNormEps: 1e-6,
} as const

export const SYNTHETIC_LLAMA_PRESETS = {
  /** Loads instantly and decodes fast on one thread: for unit and e2e tests. */
  tiny: {
    hiddenSize: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffnSize: 128,
    contextLength: 2048,
    tensorType: 'F32',
  },
  /** About 100M parameters: for benchmarks with realistic per-token compute. */
  '100m': {
    hiddenSize: 768,
    layers: 12,
    heads: 12,
    kvHeads: 12,
    ffnSize: 2560,
    contextLength: 2048,
    tensorType: 'Q8_0',
  },
  /** Qwen2.5-0.5B's transformer shape (not its vocabulary or biases); about 0.4 GB. */
  'qwen05b-shape': QWEN05B_SHAPE,
  /**
   * Qwen2.5-0.5B's shape with a vocabulary of its real size (151,936 tokens, untied head): what the sampler
   * pays for on a real Qwen model (the full-distribution sampling benchmarks); about 0.66 GB.
   */
  'qwen05b-152k': { ...QWEN05B_SHAPE, vocabularySize: 151_936 },
  /** Llama-3.2-1B's shape with a vocabulary of its real size (128,256 tokens) and tied embeddings; about 1.3 GB. */
  'llama1b-shape': {
    hiddenSize: 2048,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    ffnSize: 8192,
    contextLength: 131072,
    tensorType: 'Q8_0',
    ropeFreqBase: 500_000,
    rmsNormEps: 1e-5,
    vocabularySize: 128_256,
    tiedEmbeddings: true,
  },
} as const satisfies Record<string, SyntheticLlamaOptions>

export type SyntheticLlamaPresetName = keyof typeof SYNTHETIC_LLAMA_PRESETS

/** Bump whenever the same options would produce different bytes, so cached model files get rewritten. */
const GENERATOR_VERSION = 1
/** Metadata key recording what produced the file (llama.cpp ignores unknown keys). */
export const SYNTHETIC_FINGERPRINT_KEY = 'gguf_serve.synthetic_fingerprint'

/** Identifies the file `writeSyntheticLlama(path, options)` writes: equal fingerprints mean equal bytes. */
export function syntheticLlamaFingerprint(options: SyntheticLlamaOptions): string {
  const sorted = Object.fromEntries(Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1)))
  return JSON.stringify({ generator: GENERATOR_VERSION, options: sorted })
}

// llama.cpp's llama_ftype values for general.file_type.
const FILE_TYPE: Record<GgufTensorType, number> = { F32: 0, F16: 1, Q8_0: 7 }
const GGML_QUANT_VERSION = 2

function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193)
  return hash >>> 0
}

const GOLDEN_RATIO_32 = 0x9e3779b9

// murmur3's finalizer: a cheap bijective 32-bit mix.
function mix32(value: number): number {
  let x = value
  x ^= x >>> 16
  x = Math.imul(x, 0x85ebca6b)
  x ^= x >>> 13
  x = Math.imul(x, 0xc2b2ae35)
  x ^= x >>> 16
  return x >>> 0
}

// Sum of four uniform bytes (Irwin-Hall): mean 510, standard deviation sqrt(4 * (256^2 - 1) / 12).
const BYTE_SUM_MEAN = 510
const BYTE_SUM_STD = Math.sqrt((4 * (256 * 256 - 1)) / 12)

/**
 * Near-normal values from a counter-based hash, so any chunk can be produced independently
 * and the file depends only on the seed, never on chunking or write order.
 */
function randomNormalFill(seed: number, tensorName: string, std: number): GgufTensorSpec['fill'] {
  const key = mix32(fnv1a(`${seed >>> 0}/${tensorName}`))
  const scale = std / BYTE_SUM_STD
  return (out, offset) => {
    // Weyl sequence over the element index, kept in int32 arithmetic for speed.
    let counter = Math.imul(offset, GOLDEN_RATIO_32)
    for (let i = 0; i < out.length; i++) {
      const h = mix32(counter ^ key)
      counter = (counter + GOLDEN_RATIO_32) | 0
      const sum = (h & 0xff) + ((h >>> 8) & 0xff) + ((h >>> 16) & 0xff) + (h >>> 24)
      out[i] = (sum - BYTE_SUM_MEAN) * scale
    }
  }
}

const onesFill: GgufTensorSpec['fill'] = (out) => {
  out.fill(1)
}

function validate(options: SyntheticLlamaOptions): void {
  const { hiddenSize, heads, kvHeads } = options
  if (hiddenSize % heads !== 0) throw new Error(`hiddenSize ${hiddenSize} is not divisible by heads ${heads}`)
  if (heads % kvHeads !== 0) throw new Error(`heads ${heads} is not divisible by kvHeads ${kvHeads}`)
}

// Sharp attention (score std ~QK_GAIN^2) picks different earlier positions as RoPE angles move,
// which keeps greedy output from settling into one repeated token (measured: with gain 1 about
// 1 in 10 prompts got stuck within 200 tokens, with gain 3 none of 60).
const QK_GAIN = 3

function vocabularyOf(options: SyntheticLlamaOptions): SpmVocab {
  return paddedSpmVocab(options.vocabularySize ?? SPM_VOCAB.tokens.length)
}

function tensorSpecs(options: SyntheticLlamaOptions, vocab: SpmVocab): GgufTensorSpec[] {
  const { hiddenSize, layers, heads, kvHeads, ffnSize, tensorType } = options
  const seed = options.seed ?? 0
  const kvSize = (hiddenSize / heads) * kvHeads
  const vocabSize = vocab.tokens.length
  // Std 1/sqrt(fan-in) keeps every matmul output near unit scale so each block really mixes context.
  const weight = (name: string, dims: [number, number], gain = 1): GgufTensorSpec => ({
    name,
    dims,
    type: tensorType,
    fill: randomNormalFill(seed, name, gain / Math.sqrt(dims[0])),
  })
  const norm = (name: string): GgufTensorSpec => ({ name, dims: [hiddenSize], type: 'F32', fill: onesFill })

  const embeddings = weight('token_embd.weight', [hiddenSize, vocabSize])
  // Tied: token_embd is the output head too, so it gets the head's zero rows for non-NORMAL tokens.
  const tensors: GgufTensorSpec[] = [options.tiedEmbeddings ? { ...embeddings, fill: zeroNonNormalRows(embeddings.fill, vocab, hiddenSize) } : embeddings]
  for (let block = 0; block < layers; block++) {
    const prefix = `blk.${block}`
    tensors.push(
      norm(`${prefix}.attn_norm.weight`),
      weight(`${prefix}.attn_q.weight`, [hiddenSize, hiddenSize], QK_GAIN),
      weight(`${prefix}.attn_k.weight`, [hiddenSize, kvSize], QK_GAIN),
      weight(`${prefix}.attn_v.weight`, [hiddenSize, kvSize]),
      weight(`${prefix}.attn_output.weight`, [hiddenSize, hiddenSize]),
      norm(`${prefix}.ffn_norm.weight`),
      weight(`${prefix}.ffn_gate.weight`, [hiddenSize, ffnSize]),
      weight(`${prefix}.ffn_up.weight`, [hiddenSize, ffnSize]),
      weight(`${prefix}.ffn_down.weight`, [ffnSize, hiddenSize]),
    )
  }
  tensors.push(norm('output_norm.weight'))
  // Untied by default: with output = token_embd a random model mostly predicts its input token.
  if (!options.tiedEmbeddings) tensors.push(outputHead(seed, hiddenSize, vocab, tensorType))
  return tensors
}

// Logit standard deviation of the NORMAL tokens: peaked enough that sampling rarely picks a
// zero-logit token, while greedy output still varies from step to step.
const OUTPUT_LOGIT_STD = 4

/**
 * Rows of non-NORMAL tokens (control, unknown, byte) are zero, so their logit is always 0 while
 * word pieces spread around it: greedy decoding never emits BOS/EOS/<|im_end|> or stray UTF-8
 * bytes, and sampled output stays text. A random model that stops or emits invalid UTF-8 at
 * random would make test and benchmark lengths depend on luck.
 */
function outputHead(seed: number, hiddenSize: number, vocab: SpmVocab, type: GgufTensorType): GgufTensorSpec {
  const name = 'output.weight'
  const random = randomNormalFill(seed, name, OUTPUT_LOGIT_STD / Math.sqrt(hiddenSize))
  return { name, dims: [hiddenSize, vocab.tokens.length], type, fill: zeroNonNormalRows(random, vocab, hiddenSize) }
}

/** `fill` with the rows (one per token, `hiddenSize` long) of every non-NORMAL token set to zero. */
function zeroNonNormalRows(fill: GgufTensorSpec['fill'], vocab: SpmVocab, hiddenSize: number): GgufTensorSpec['fill'] {
  return (out, offset) => {
    fill(out, offset)
    for (let i = 0; i < out.length; i++) {
      if (vocab.tokenTypes[Math.floor((offset + i) / hiddenSize)] !== SpmTokenType.NORMAL) out[i] = 0
    }
  }
}

function metadata(options: SyntheticLlamaOptions, vocab: SpmVocab): GgufMetadataEntry[] {
  const { hiddenSize, heads } = options
  const chatTemplate = options.chatTemplate === undefined ? CHATML_TEMPLATE : options.chatTemplate
  const entries: GgufMetadataEntry[] = [
    { key: 'general.architecture', type: 'string', value: 'llama' },
    { key: 'general.name', type: 'string', value: options.name ?? 'synthetic-llama' },
    { key: 'general.file_type', type: 'uint32', value: FILE_TYPE[options.tensorType] },
    { key: 'general.quantization_version', type: 'uint32', value: GGML_QUANT_VERSION },
    { key: SYNTHETIC_FINGERPRINT_KEY, type: 'string', value: syntheticLlamaFingerprint(options) },
    { key: 'llama.context_length', type: 'uint32', value: options.contextLength },
    { key: 'llama.embedding_length', type: 'uint32', value: hiddenSize },
    { key: 'llama.block_count', type: 'uint32', value: options.layers },
    { key: 'llama.feed_forward_length', type: 'uint32', value: options.ffnSize },
    { key: 'llama.attention.head_count', type: 'uint32', value: heads },
    { key: 'llama.attention.head_count_kv', type: 'uint32', value: options.kvHeads },
    { key: 'llama.attention.layer_norm_rms_epsilon', type: 'float32', value: options.rmsNormEps ?? 1e-5 },
    { key: 'llama.rope.dimension_count', type: 'uint32', value: hiddenSize / heads },
    { key: 'llama.rope.freq_base', type: 'float32', value: options.ropeFreqBase ?? 10_000 },
    { key: 'llama.vocab_size', type: 'uint32', value: vocab.tokens.length },
    { key: 'tokenizer.ggml.model', type: 'string', value: 'llama' },
    { key: 'tokenizer.ggml.tokens', type: 'string[]', value: vocab.tokens },
    { key: 'tokenizer.ggml.scores', type: 'float32[]', value: vocab.scores },
    { key: 'tokenizer.ggml.token_type', type: 'int32[]', value: vocab.tokenTypes },
    { key: 'tokenizer.ggml.bos_token_id', type: 'uint32', value: vocab.bosId },
    { key: 'tokenizer.ggml.eos_token_id', type: 'uint32', value: vocab.eosId },
    // <|im_end|> ends a ChatML turn, so llama.cpp must treat it as end-of-generation too.
    { key: 'tokenizer.ggml.eot_token_id', type: 'uint32', value: vocab.imEndId },
    { key: 'tokenizer.ggml.unknown_token_id', type: 'uint32', value: vocab.unknownId },
    { key: 'tokenizer.ggml.add_bos_token', type: 'bool', value: true },
    { key: 'tokenizer.ggml.add_eos_token', type: 'bool', value: false },
  ]
  if (chatTemplate !== null) entries.push({ key: 'tokenizer.chat_template', type: 'string', value: chatTemplate })
  return entries
}

/** The GGUF layout of a synthetic llama model (no I/O). */
export function syntheticLlamaSpec(options: SyntheticLlamaOptions): GgufSpec {
  validate(options)
  const vocab = vocabularyOf(options)
  return { metadata: metadata(options, vocab), tensors: tensorSpecs(options, vocab) }
}

export function syntheticLlamaParameterCount(options: SyntheticLlamaOptions): number {
  return syntheticLlamaSpec(options).tensors.reduce(
    (total, tensor) => total + tensor.dims.reduce((product, dim) => product * dim, 1),
    0,
  )
}

/** Writes a random-weight llama model with the built-in SentencePiece vocabulary (padded to `vocabularySize`) to `path`. */
export async function writeSyntheticLlama(path: string, options: SyntheticLlamaOptions): Promise<void> {
  await writeGguf(path, syntheticLlamaSpec(options))
}
