import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { GgmlType, GgufFileType, readGgufFileInfo, type GgufTensorInfo } from 'node-llama-cpp'
import { cacheNameOf } from './cache-names.js'

export interface CachedModel {
  /** What `--model`, `pull` and `rm` take: the path inside the cache directory without `.gguf`. */
  name: string
  path: string
  sizeBytes: number
  /** From the GGUF header (general.architecture); null when the header does not say or does not parse. */
  architecture: string | null
  /** general.file_type (F16, Q8_0, …), or when the header has none the type most weight tensors use. */
  quantization: string | null
}

/** GGUF files in the download cache, by name. Unfinished downloads (`.ipull`) are not GGUF files and are left out. */
export async function listCachedModels(cacheDir: string): Promise<CachedModel[]> {
  const root = path.resolve(cacheDir)
  let names: string[]
  try {
    names = await readdir(root, { recursive: true })
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return []
    throw error
  }
  const models = await Promise.all(
    names.filter((name) => name.toLowerCase().endsWith('.gguf')).sort().map((name) => describeFile(root, name)),
  )
  return models
}

async function describeFile(root: string, relativePath: string): Promise<CachedModel> {
  const file = path.join(root, relativePath)
  const name = cacheNameOf(relativePath)
  const { size } = await stat(file)
  try {
    const { metadata, fullTensorInfo } = await readGgufFileInfo(file, {
      sourceType: 'filesystem',
      logWarnings: false,
      // The vocabulary is most of a header; only the architecture, file type and tensor types are wanted.
      ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
    })
    const fileType = metadata.general?.file_type
    return {
      name,
      path: file,
      sizeBytes: size,
      architecture: metadata.general?.architecture ?? null,
      quantization:
        fileType === undefined
          ? dominantTensorType(fullTensorInfo ?? [])
          : (GgufFileType[fileType]?.replace(/^(MOSTLY|ALL)_/, '') ?? String(fileType)),
    }
  } catch {
    return { name, path: file, sizeBytes: size, architecture: null, quantization: null }
  }
}

/** Files written without general.file_type (older converters, synthetic models): the type of most weight matrices. */
function dominantTensorType(tensors: readonly GgufTensorInfo[]): string | null {
  const counts = new Map<GgmlType, number>()
  // Norms and biases (1-D) stay F32 in every quantization, so only matrices say what the file is.
  const matrices = tensors.filter((tensor) => tensor.dimensions.length >= 2)
  for (const tensor of matrices.length > 0 ? matrices : tensors) counts.set(tensor.ggmlType, (counts.get(tensor.ggmlType) ?? 0) + 1)
  const [top] = [...counts].sort((a, b) => b[1] - a[1])
  return top === undefined ? null : (GgmlType[top[0]] ?? String(top[0]))
}
