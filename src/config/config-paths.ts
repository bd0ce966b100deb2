import { existsSync } from 'node:fs'
import path from 'node:path'

/**
 * A config file's relative paths mean "next to this file", wherever the server is started from:
 * `download.cacheDir`, `server.apiKeysFile` and local model sources. A model source without a directory
 * part that is not a file beside the config stays as written: it may name a cached model.
 */
export function resolveConfigPaths(raw: Record<string, unknown>, configFile: string): void {
  const dir = path.dirname(path.resolve(configFile))
  const server = asRecord(raw.server)
  const download = asRecord(raw.download)
  if (server && typeof server.apiKeysFile === 'string') server.apiKeysFile = path.resolve(dir, server.apiKeysFile)
  if (download && typeof download.cacheDir === 'string') download.cacheDir = path.resolve(dir, download.cacheDir)
  if (!Array.isArray(raw.models)) return
  for (const entry of raw.models) {
    const model = asRecord(entry)
    if (model && typeof model.source === 'string') model.source = resolveSource(model.source, dir)
  }
}

function resolveSource(source: string, dir: string): string {
  if (/^(hf|huggingface|https?|file):/i.test(source) || path.isAbsolute(source)) return source
  const candidate = path.resolve(dir, source)
  const spelledAsPath = /[/\\]/.test(source)
  return spelledAsPath || existsSync(candidate) ? candidate : source
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined
}
