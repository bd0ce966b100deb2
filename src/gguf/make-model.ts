import { randomBytes } from 'node:crypto'
import { mkdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { readGgufFileInfo } from 'node-llama-cpp'
import {
  SYNTHETIC_FINGERPRINT_KEY,
  SYNTHETIC_LLAMA_PRESETS,
  syntheticLlamaFingerprint,
  writeSyntheticLlama,
  type SyntheticLlamaPresetName,
} from './synthetic-llama.js'

/** The fingerprint stored in an existing GGUF file, or undefined when there is no readable file. */
async function storedFingerprint(path: string): Promise<unknown> {
  try {
    const info = await readGgufFileInfo(path, {
      sourceType: 'filesystem',
      readTensorInfo: false,
      logWarnings: false,
      ignoreKeys: ['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'],
    })
    // The reader nests dotted keys into objects.
    let value: unknown = info.metadata
    for (const part of SYNTHETIC_FINGERPRINT_KEY.split('.')) {
      value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[part] : undefined
    }
    return value
  } catch {
    return undefined
  }
}

/**
 * Makes sure `path` holds the given preset model (with `chatTemplate` instead of ChatML when given;
 * null = none) and returns `path`. An existing file is kept when
 * it was written by the current generator with the same preset and seed, and replaced otherwise,
 * so a cached model never goes stale when the generator changes. The file appears atomically
 * (temp file + rename): a crash or a concurrent writer never leaves a partial model behind, and
 * concurrent writers produce identical bytes.
 */
export async function ensureSyntheticModel(
  path: string,
  presetName: SyntheticLlamaPresetName,
  { seed = 0, chatTemplate }: { seed?: number; chatTemplate?: string | null } = {},
): Promise<string> {
  // chatTemplate only when given, so the fingerprints (and cached files) of existing callers stay the same.
  const options = {
    ...SYNTHETIC_LLAMA_PRESETS[presetName],
    name: `synthetic-${presetName}`,
    seed,
    ...(chatTemplate !== undefined ? { chatTemplate } : {}),
  }
  if ((await storedFingerprint(path)) === syntheticLlamaFingerprint(options)) return path
  await mkdir(dirname(path), { recursive: true })
  const tempPath = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    await writeSyntheticLlama(tempPath, options)
    await rename(tempPath, path)
  } catch (error) {
    await rm(tempPath, { force: true })
    throw error
  }
  return path
}
