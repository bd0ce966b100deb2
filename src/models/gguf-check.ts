import { open, stat } from 'node:fs/promises'
import { GgmlType, readGgufFileInfo, type GgufFileInfo, type GgufTensorInfo } from 'node-llama-cpp'
import { StartupError } from '../errors.js'

// Checks that a file is a complete GGUF model before llama.cpp is given it: a clear message beats a crash.

/** [bytes per block, elements per block] for each ggml tensor type, as in ggml's type traits. */
const GGML_TYPE_LAYOUT: Partial<Record<GgmlType, readonly [number, number]>> = {
  [GgmlType.F32]: [4, 1],
  [GgmlType.F16]: [2, 1],
  [GgmlType.BF16]: [2, 1],
  [GgmlType.F64]: [8, 1],
  [GgmlType.I8]: [1, 1],
  [GgmlType.I16]: [2, 1],
  [GgmlType.I32]: [4, 1],
  [GgmlType.I64]: [8, 1],
  [GgmlType.Q4_0]: [18, 32],
  [GgmlType.Q4_1]: [20, 32],
  [GgmlType.Q5_0]: [22, 32],
  [GgmlType.Q5_1]: [24, 32],
  [GgmlType.Q8_0]: [34, 32],
  [GgmlType.Q8_1]: [36, 32],
  [GgmlType.IQ4_NL]: [18, 32],
  [GgmlType.MXFP4]: [17, 32],
  [GgmlType.Q2_K]: [84, 256],
  [GgmlType.Q3_K]: [110, 256],
  [GgmlType.Q4_K]: [144, 256],
  [GgmlType.Q5_K]: [176, 256],
  [GgmlType.Q6_K]: [210, 256],
  [GgmlType.Q8_K]: [292, 256],
  [GgmlType.IQ2_XXS]: [66, 256],
  [GgmlType.IQ2_XS]: [74, 256],
  [GgmlType.IQ2_S]: [82, 256],
  [GgmlType.IQ3_XXS]: [98, 256],
  [GgmlType.IQ3_S]: [110, 256],
  [GgmlType.IQ1_S]: [50, 256],
  [GgmlType.IQ1_M]: [56, 256],
  [GgmlType.IQ4_XS]: [136, 256],
  [GgmlType.TQ1_0]: [54, 256],
  [GgmlType.TQ2_0]: [66, 256],
}

const GGUF_MAGIC = 'GGUF'
// Magic, version, tensor count and metadata count.
const GGUF_HEADER_BYTES = 24
// The smallest metadata entry (empty key, one-byte value) and tensor entry (empty name, no dimensions).
const MIN_KV_BYTES = 8 + 4 + 1
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8

/**
 * Throws a StartupError naming the file and what is wrong with it. The library's parser reads past the end
 * of a file as zeros rather than failing, so a truncated file parses: sizes are checked against the header.
 */
export async function checkGgufFile(filePath: string): Promise<void> {
  await checkGgufHeader(filePath)
  let info: GgufFileInfo
  try {
    info = await readGgufFileInfo(filePath, { sourceType: 'filesystem', logWarnings: false })
  } catch (error) {
    const missing = error as { code?: unknown; path?: unknown }
    if (missing.code === 'ENOENT' && typeof missing.path === 'string') {
      throw new StartupError(`Model file ${filePath} is one part of a split model, but part ${missing.path} is missing`, {
        cause: error,
      })
    }
    throw new StartupError(`Model file ${filePath} is not a valid GGUF file: ${(error as Error).message}`, {
      cause: error,
    })
  }

  // Split models: the parts come back in order, and each tensor names the part (from 1) that holds its data.
  const partPaths = info.sourceData.map((source) => (source.type === 'path' ? source.path : filePath))
  const minimumSizes = partPaths.map(() => 0)
  minimumSizes[0] = info.metadataSize + (info.tensorInfoSize ?? 0)
  for (const tensor of info.fullTensorInfo ?? []) {
    const index = tensor.filePart - 1
    const end = Number(tensor.fileOffset) + (tensorDataBytes(tensor) ?? 0)
    minimumSizes[index] = Math.max(minimumSizes[index] ?? 0, end)
  }
  for (const [index, partPath] of partPaths.entries()) {
    const partSize = (await stat(partPath)).size
    const minimum = minimumSizes[index] ?? 0
    if (partSize < minimum) {
      throw new StartupError(`Model file ${partPath} is truncated: ${partSize} bytes, expected at least ${minimum}`)
    }
  }
}

/** Checks existence, magic, version, and that the entry counts the header declares can fit in the file. */
async function checkGgufHeader(filePath: string): Promise<void> {
  let handle
  try {
    handle = await open(filePath, 'r')
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') {
      throw new StartupError(`Model file not found: ${filePath}`, { cause: error })
    }
    throw new StartupError(`Cannot open model file ${filePath}: ${(error as Error).message}`, { cause: error })
  }
  try {
    const stats = await handle.stat()
    const size = stats.size
    if (!stats.isFile()) throw new StartupError(`Model path is not a file: ${filePath}`)
    const header = Buffer.alloc(GGUF_HEADER_BYTES)
    const { bytesRead } = await handle.read(header, 0, GGUF_HEADER_BYTES, 0)
    const magic = header.subarray(0, Math.min(bytesRead, 4)).toString('latin1')
    if (magic !== GGUF_MAGIC) {
      const found = bytesRead === 0 ? 'the file is empty' : `it starts with ${JSON.stringify(magic)}`
      throw new StartupError(`Model file ${filePath} is not a GGUF file (bad magic: ${found})`)
    }
    if (bytesRead < GGUF_HEADER_BYTES) {
      throw new StartupError(`Model file ${filePath} is truncated: ${size} bytes, expected at least ${GGUF_HEADER_BYTES}`)
    }
    const version = header.readUInt32LE(4)
    if (version !== 2 && version !== 3) {
      throw new StartupError(`Model file ${filePath} has GGUF version ${version}; only versions 2 and 3 are supported`)
    }
    // Rejects garbage counts before the parser would loop over them.
    const minimum =
      BigInt(GGUF_HEADER_BYTES) +
      header.readBigUInt64LE(8) * BigInt(MIN_TENSOR_INFO_BYTES) +
      header.readBigUInt64LE(16) * BigInt(MIN_KV_BYTES)
    if (BigInt(size) < minimum) {
      throw new StartupError(`Model file ${filePath} is truncated: ${size} bytes, expected at least ${minimum}`)
    }
  } finally {
    await handle.close()
  }
}

/** Bytes of a tensor's data; undefined for a type this table does not know (then only its offset is checked). */
function tensorDataBytes(tensor: GgufTensorInfo): number | undefined {
  const layout = GGML_TYPE_LAYOUT[tensor.ggmlType]
  if (layout === undefined) return undefined
  const [blockBytes, blockElements] = layout
  const elements = tensor.dimensions.reduce<number>((product, dimension) => product * Number(dimension), 1)
  return Math.floor(elements / blockElements) * blockBytes
}
