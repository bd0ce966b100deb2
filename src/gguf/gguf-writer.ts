import { open } from 'node:fs/promises'
import { endianness } from 'node:os'

/** A typed GGUF key/value pair. */
export type GgufMetadataEntry =
  | { key: string; type: 'uint32' | 'int32' | 'float32'; value: number }
  | { key: string; type: 'uint64'; value: number | bigint }
  | { key: string; type: 'bool'; value: boolean }
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'string[]'; value: readonly string[] }
  | { key: string; type: 'float32[]' | 'int32[]'; value: ArrayLike<number> }

export type GgufTensorType = 'F32' | 'F16' | 'Q8_0'

export interface GgufTensorSpec {
  name: string
  /** ggml order: innermost (contiguous) dimension first. */
  dims: readonly number[]
  type: GgufTensorType
  /**
   * Writes elements [offset, offset + out.length) of the flattened tensor into `out`.
   * Called in increasing offset order; data is produced piecewise so memory stays bounded.
   */
  fill: (out: Float32Array, offset: number) => void
}

export interface GgufSpec {
  metadata: readonly GgufMetadataEntry[]
  tensors: readonly GgufTensorSpec[]
  /** Data alignment; written as `general.alignment` when given. Defaults to that key, else 32. */
  alignment?: number
}

const GGUF_MAGIC = 0x46554747 // "GGUF" read as a little-endian uint32
const GGUF_VERSION = 3
const DEFAULT_ALIGNMENT = 32
const ALIGNMENT_KEY = 'general.alignment'
// ggml's GGML_MAX_NAME is 64 bytes including the terminating NUL.
const MAX_TENSOR_NAME_BYTES = 63
const MAX_DIMS = 4
// Multiple of the Q8_0 block size so quantization blocks never straddle two chunks.
const CHUNK_ELEMENTS = 1 << 18

const GgufValueType = {
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
} as const

const GGML_TYPE_ID: Record<GgufTensorType, number> = { F32: 0, F16: 1, Q8_0: 8 }

export const Q8_0_BLOCK_SIZE = 32
/** One fp16 scale followed by 32 int8 quants. */
export const Q8_0_BLOCK_BYTES = 2 + Q8_0_BLOCK_SIZE

/** Bytes taken by `elements` values of `type` (elements must be a whole number of blocks for Q8_0). */
export function ggmlTensorBytes(type: GgufTensorType, elements: number): number {
  switch (type) {
    case 'F32':
      return elements * 4
    case 'F16':
      return elements * 2
    case 'Q8_0':
      return (elements / Q8_0_BLOCK_SIZE) * Q8_0_BLOCK_BYTES
  }
}

const f32Scratch = new Float32Array(1)
const u32Scratch = new Uint32Array(f32Scratch.buffer)

/** IEEE 754 binary32 -> binary16 bits, round-to-nearest-even, with subnormals, infinities and NaN. */
export function f32ToF16(value: number): number {
  f32Scratch[0] = value
  return f16FromF32Bits(u32Scratch[0]!)
}

function f16FromF32Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000
  const exponent = (bits >>> 23) & 0xff
  let mantissa = bits & 0x7fffff
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0)
  const halfExponent = exponent - 127 + 15
  if (halfExponent >= 0x1f) return sign | 0x7c00
  if (halfExponent <= 0) {
    // Result is subnormal (or zero): shift the implicit-1 mantissa into the 2^-24 grid.
    if (halfExponent < -10) return sign
    mantissa |= 0x800000
    const shift = 14 - halfExponent
    let half = mantissa >>> shift
    const rest = mantissa & ((1 << shift) - 1)
    const halfway = 1 << (shift - 1)
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++
    return sign | half
  }
  let half = (halfExponent << 10) | (mantissa >>> 13)
  const rest = mantissa & 0x1fff
  // A carry out of the mantissa correctly bumps the exponent (up to infinity).
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++
  return sign | half
}

/** Encodes `src` as little-endian fp16 into `dst` starting at `dstOffset`. */
export function encodeF16(src: Float32Array, dst: Uint8Array, dstOffset = 0): void {
  // Reading the raw bits through a second view avoids a scratch round trip per value.
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length)
  for (let i = 0; i < bits.length; i++) {
    const half = f16FromF32Bits(bits[i]!)
    const at = dstOffset + i * 2
    dst[at] = half & 0xff
    dst[at + 1] = half >>> 8
  }
}

/**
 * Quantizes `src` (a whole number of 32-value blocks) to Q8_0 like ggml's reference
 * quantize_row_q8_0: d = max|x| / 127 (stored as fp16), q = roundf(x / d) in float32 arithmetic.
 */
export function quantizeQ8_0(src: Float32Array, dst: Uint8Array, dstOffset = 0): void {
  if (src.length % Q8_0_BLOCK_SIZE !== 0) {
    throw new Error(`Q8_0 input length ${src.length} is not a multiple of ${Q8_0_BLOCK_SIZE}`)
  }
  for (let start = 0, at = dstOffset; start < src.length; start += Q8_0_BLOCK_SIZE, at += Q8_0_BLOCK_BYTES) {
    const end = start + Q8_0_BLOCK_SIZE
    let amax = 0
    for (let j = start; j < end; j++) {
      const value = src[j]!
      const magnitude = value < 0 ? -value : value
      if (magnitude > amax) amax = magnitude
    }
    const d = Math.fround(amax / 127)
    const inverse = d !== 0 ? Math.fround(1 / d) : 0
    const half = f32ToF16(d)
    dst[at] = half & 0xff
    dst[at + 1] = half >>> 8
    let out = at + 2
    for (let j = start; j < end; j++) {
      // fround reproduces C's float multiply; floor(x + 0.5) on the magnitude is roundf
      // (halves away from zero), exact here because |scaled| <= 127.
      const scaled = Math.fround(src[j]! * inverse)
      const q = scaled < 0 ? -Math.floor(0.5 - scaled) : Math.floor(scaled + 0.5)
      dst[out++] = q & 0xff
    }
  }
}

/** Little-endian byte builder for the (small) header part of the file. */
class HeaderBuilder {
  private readonly parts: Buffer[] = []
  length = 0

  private push(part: Buffer): void {
    this.parts.push(part)
    this.length += part.length
  }

  u32(value: number): void {
    const part = Buffer.allocUnsafe(4)
    part.writeUInt32LE(value)
    this.push(part)
  }

  i32(value: number): void {
    const part = Buffer.allocUnsafe(4)
    part.writeInt32LE(value)
    this.push(part)
  }

  f32(value: number): void {
    const part = Buffer.allocUnsafe(4)
    part.writeFloatLE(value)
    this.push(part)
  }

  u64(value: number | bigint): void {
    const part = Buffer.allocUnsafe(8)
    part.writeBigUInt64LE(BigInt(value))
    this.push(part)
  }

  u8(value: number): void {
    this.push(Buffer.from([value]))
  }

  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8')
    this.u64(bytes.length)
    this.push(bytes)
  }

  zeros(count: number): void {
    if (count > 0) this.push(Buffer.alloc(count))
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.length)
  }
}

function writeMetadataValue(out: HeaderBuilder, entry: GgufMetadataEntry): void {
  switch (entry.type) {
    case 'uint32':
      out.u32(GgufValueType.UINT32)
      out.u32(entry.value)
      return
    case 'int32':
      out.u32(GgufValueType.INT32)
      out.i32(entry.value)
      return
    case 'float32':
      out.u32(GgufValueType.FLOAT32)
      out.f32(entry.value)
      return
    case 'uint64':
      out.u32(GgufValueType.UINT64)
      out.u64(entry.value)
      return
    case 'bool':
      out.u32(GgufValueType.BOOL)
      out.u8(entry.value ? 1 : 0)
      return
    case 'string':
      out.u32(GgufValueType.STRING)
      out.string(entry.value)
      return
    case 'string[]':
      out.u32(GgufValueType.ARRAY)
      out.u32(GgufValueType.STRING)
      out.u64(entry.value.length)
      for (const item of entry.value) out.string(item)
      return
    case 'float32[]':
    case 'int32[]': {
      const isFloat = entry.type === 'float32[]'
      out.u32(GgufValueType.ARRAY)
      out.u32(isFloat ? GgufValueType.FLOAT32 : GgufValueType.INT32)
      out.u64(entry.value.length)
      for (let i = 0; i < entry.value.length; i++) {
        const item = entry.value[i] ?? 0
        if (isFloat) out.f32(item)
        else out.i32(item)
      }
      return
    }
  }
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment
}

function resolveAlignment(spec: GgufSpec): { alignment: number; metadata: readonly GgufMetadataEntry[] } {
  const existing = spec.metadata.find((entry) => entry.key === ALIGNMENT_KEY)
  if (existing !== undefined && existing.type !== 'uint32') {
    throw new Error(`${ALIGNMENT_KEY} must be a uint32`)
  }
  const fromMetadata = existing?.value
  if (spec.alignment !== undefined && fromMetadata !== undefined && spec.alignment !== fromMetadata) {
    throw new Error(`alignment ${spec.alignment} conflicts with ${ALIGNMENT_KEY}=${fromMetadata}`)
  }
  const alignment = spec.alignment ?? fromMetadata ?? DEFAULT_ALIGNMENT
  // gguf rejects alignments that are not a power of two.
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw new Error(`alignment must be a power of two, got ${alignment}`)
  }
  const metadata =
    spec.alignment !== undefined && existing === undefined
      ? [...spec.metadata, { key: ALIGNMENT_KEY, type: 'uint32' as const, value: alignment }]
      : spec.metadata
  return { alignment, metadata }
}

function elementCount(tensor: GgufTensorSpec): number {
  if (tensor.dims.length === 0 || tensor.dims.length > MAX_DIMS) {
    throw new Error(`tensor ${tensor.name}: expected 1..${MAX_DIMS} dims, got ${tensor.dims.length}`)
  }
  for (const dim of tensor.dims) {
    if (!Number.isSafeInteger(dim) || dim <= 0) throw new Error(`tensor ${tensor.name}: bad dim ${dim}`)
  }
  if (tensor.type === 'Q8_0' && (tensor.dims[0] ?? 0) % Q8_0_BLOCK_SIZE !== 0) {
    throw new Error(`tensor ${tensor.name}: Q8_0 needs the first dim to be a multiple of ${Q8_0_BLOCK_SIZE}`)
  }
  return tensor.dims.reduce((product, dim) => product * dim, 1)
}

function validateNames(tensors: readonly GgufTensorSpec[], metadata: readonly GgufMetadataEntry[]): void {
  const tensorNames = new Set<string>()
  for (const { name } of tensors) {
    if (Buffer.byteLength(name, 'utf8') > MAX_TENSOR_NAME_BYTES) throw new Error(`tensor name too long: ${name}`)
    if (tensorNames.has(name)) throw new Error(`duplicate tensor name: ${name}`)
    tensorNames.add(name)
  }
  const keys = new Set<string>()
  for (const { key } of metadata) {
    if (keys.has(key)) throw new Error(`duplicate metadata key: ${key}`)
    keys.add(key)
  }
}

/**
 * Writes a GGUF v3 file. The header is built in memory; tensor data is produced by each tensor's
 * `fill` in fixed-size chunks and streamed to disk, so memory use does not grow with model size.
 */
export async function writeGguf(path: string, spec: GgufSpec): Promise<void> {
  const { alignment, metadata } = resolveAlignment(spec)
  validateNames(spec.tensors, metadata)

  const header = new HeaderBuilder()
  header.u32(GGUF_MAGIC)
  header.u32(GGUF_VERSION)
  header.u64(spec.tensors.length)
  header.u64(metadata.length)
  for (const entry of metadata) {
    header.string(entry.key)
    writeMetadataValue(header, entry)
  }

  const layout = spec.tensors.map((tensor) => {
    const elements = elementCount(tensor)
    return { tensor, elements, bytes: ggmlTensorBytes(tensor.type, elements) }
  })
  let dataOffset = 0
  for (const { tensor, bytes } of layout) {
    header.string(tensor.name)
    header.u32(tensor.dims.length)
    for (const dim of tensor.dims) header.u64(dim)
    header.u32(GGML_TYPE_ID[tensor.type])
    header.u64(dataOffset)
    dataOffset += alignUp(bytes, alignment)
  }
  header.zeros(alignUp(header.length, alignment) - header.length)

  const file = await open(path, 'w')
  try {
    await file.write(header.toBuffer())
    const values = new Float32Array(CHUNK_ELEMENTS)
    const encoded = Buffer.alloc(CHUNK_ELEMENTS * 4)
    for (const { tensor, elements, bytes } of layout) {
      for (let offset = 0; offset < elements; offset += CHUNK_ELEMENTS) {
        const count = Math.min(CHUNK_ELEMENTS, elements - offset)
        const chunk = values.subarray(0, count)
        tensor.fill(chunk, offset)
        const length = encodeChunk(tensor.type, chunk, encoded)
        await file.write(encoded, 0, length)
      }
      const padding = alignUp(bytes, alignment) - bytes
      if (padding > 0) await file.write(Buffer.alloc(padding))
    }
  } finally {
    await file.close()
  }
}

function encodeChunk(type: GgufTensorType, chunk: Float32Array, out: Buffer): number {
  switch (type) {
    case 'F32':
      // A byte copy of the Float32Array is only GGUF's little-endian layout on a little-endian host.
      if (endianness() !== 'LE') throw new Error('F32 tensors can only be written on a little-endian host')
      out.set(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      return chunk.byteLength
    case 'F16':
      encodeF16(chunk, out)
      return chunk.length * 2
    case 'Q8_0':
      quantizeQ8_0(chunk, out)
      return ggmlTensorBytes('Q8_0', chunk.length)
  }
}
