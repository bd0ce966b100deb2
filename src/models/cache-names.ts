import { stat } from 'node:fs/promises'
import path from 'node:path'

/**
 * Names of cached models, as `gguf-serve models` lists them: the file's path inside the cache directory,
 * with or without `.gguf`. `--model NAME`, a config's `source: NAME`, `pull` and `rm` take them.
 */

/** A relative source that is not spelled as a path (`./x`, `../x`, `~/x`) may be a cache name. */
export function mayBeCacheName(source: string): boolean {
  const trimmed = source.trim()
  return trimmed !== '' && !path.isAbsolute(trimmed) && !/^(\.{1,2}|~)([/\\]|$)/.test(trimmed) && !trimmed.startsWith('file:')
}

/** The name `gguf-serve models` shows for a file in the cache. */
export function cacheNameOf(relativePath: string): string {
  return relativePath.replace(/\.gguf$/i, '')
}

/** The cached file `name` stands for, or undefined; a name never reaches outside the cache directory. */
export async function findCachedName(name: string, cacheDir: string): Promise<string | undefined> {
  if (!mayBeCacheName(name)) return undefined
  const root = path.resolve(cacheDir)
  for (const candidate of [name, `${name}.gguf`]) {
    const file = path.resolve(root, candidate)
    if (!file.startsWith(root + path.sep) || !file.toLowerCase().endsWith('.gguf')) continue
    const stats = await stat(file).catch(() => null)
    if (stats?.isFile()) return file
  }
  return undefined
}
