import { loadConfig } from '../config/load-config.js'
import { listCachedModels } from '../models/model-cache.js'
import { formatBytes } from '../format-bytes.js'

/** `gguf-serve models`: the GGUF files in the download cache, one line each, as a table on stdout. */
export async function listModels(flags: Record<string, unknown>): Promise<void> {
  const { config } = loadConfig({ flags, env: process.env })
  const { cacheDir } = config.download
  const models = await listCachedModels(cacheDir)
  if (models.length === 0) {
    process.stderr.write(`No GGUF files in ${cacheDir}. Download the default model with "gguf-serve pull", or another with "gguf-serve pull <hf:…|URL>".\n`)
    return
  }
  const rows = [
    ['NAME', 'SIZE', 'ARCHITECTURE', 'TYPE'],
    ...models.map((m) => [m.name, formatBytes(m.sizeBytes), m.architecture ?? '?', m.quantization ?? '?']),
  ]
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`)
}
