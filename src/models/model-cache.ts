import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { GgufFileType, readGgufFileInfo } from 'node-llama-cpp'

export interface CachedModel {
  /** Path relative to the cache directory. */
  name: string
  path: string
  sizeBytes: number
  /** From the GGUF header (general.architecture, general.file_type); null when the header does not say or does not parse. */
  architecture: string | null
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

async function describeFile(root: string, name: string): Promise<CachedModel> {
  const file = path.join(root, name)
  const { size } = await stat(file)
  try {
    const { metadata } = await readGgufFileInfo(file, {
      sourceType: 'filesystem',
      readTensorInfo: false,
      logWarnings: false,
      // The vocabulary is most of a header; only two keys are wanted here.
      ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type', 'tokenizer.ggml.merges'],
    })
    const fileType = metadata.general?.file_type
    return {
      name,
      path: file,
      sizeBytes: size,
      architecture: metadata.general?.architecture ?? null,
      quantization: fileType === undefined ? null : (GgufFileType[fileType]?.replace(/^MOSTLY_/, '') ?? String(fileType)),
    }
  } catch {
    return { name, path: file, sizeBytes: size, architecture: null, quantization: null }
  }
}
