import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { StartupError } from '../errors.js'

// The forms `--model` accepts, told apart without touching the file system or the network.

export type ModelSourceDescription =
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string }
  /** `uri` is normalized to the `hf:` prefix; `tag` is a quantization tag such as Q4_K_M. */
  | { kind: 'hf'; uri: string; repo: string; file?: string; branch?: string; tag?: string }

// The prefixes node-llama-cpp's URI parser accepts (the hf.co/ shorthand is left out: it reads like a path).
const HF_PREFIXES = ['hf://', 'huggingface://', 'hf:', 'huggingface:']

/** Classifies a model source without touching the file system or the network. */
export function describeModelSource(source: string): ModelSourceDescription {
  const trimmed = source.trim()
  if (trimmed === '') throw new StartupError('The model source is empty: pass a path, an hf: URI or an http(s) URL.')

  const hfPrefix = HF_PREFIXES.find((prefix) => trimmed.startsWith(prefix))
  if (hfPrefix !== undefined) return describeHfUri(source, trimmed.slice(hfPrefix.length))

  if (/^https?:\/\//i.test(trimmed)) {
    try {
      return { kind: 'url', url: new URL(trimmed).href }
    } catch (error) {
      throw new StartupError(`Invalid model URL: ${source}`, { cause: error })
    }
  }
  if (trimmed.startsWith('file:')) return { kind: 'path', path: fileURLToPath(trimmed) }
  return { kind: 'path', path: path.resolve(trimmed) }
}

// Mirrors the two forms node-llama-cpp resolves: hf:<org>/<repo>[:<tag>] and hf:<org>/<repo>/<file>[#<branch>].
function describeHfUri(source: string, body: string): ModelSourceDescription {
  const [org = '', repoPart = '', ...fileParts] = body.split('/')
  const rest = fileParts.join('/')
  const invalid = () =>
    new StartupError(
      `Invalid Hugging Face model URI "${source}": expected hf:<org>/<repo>:<quant> or hf:<org>/<repo>/<file>.gguf[#<branch>].`,
    )

  if (rest === '' || repoPart.includes(':')) {
    const [repo = '', ...tagParts] = repoPart.split(':')
    const tag = tagParts.join(':').trim()
    if (org === '' || repo === '') throw invalid()
    return { kind: 'hf', uri: `hf:${org}/${repo}${tag ? `:${tag}` : ''}`, repo: `${org}/${repo}`, ...(tag ? { tag } : {}) }
  }

  const hashAt = rest.indexOf('#')
  const file = hashAt < 0 ? rest : rest.slice(0, hashAt)
  const branch = hashAt < 0 ? '' : rest.slice(hashAt + 1)
  if (org === '' || repoPart === '' || file === '') throw invalid()
  return {
    kind: 'hf',
    uri: `hf:${org}/${repoPart}/${file}${branch ? `#${branch}` : ''}`,
    repo: `${org}/${repoPart}`,
    file,
    ...(branch ? { branch } : {}),
  }
}
