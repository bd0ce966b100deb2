import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { Template } from '@huggingface/jinja'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import { parse as parseYaml } from 'yaml'
import { StartupError } from '../errors.js'
import { resolveConfigPaths } from './config-paths.js'
import { ConfigSchema, ModelSettingsSchema, type Config, type ModelConfig } from './schema.js'

/**
 * Config comes from four layers, later ones winning: defaults < YAML file < environment (GGUF_SERVE_*)
 * < command-line flags. It is merged, then validated once; a bad value exits naming the key, where it
 * came from and what is allowed.
 */

/** One setting reachable from the command line and the environment. */
interface Setting {
  flag: string // commander's camelCase option name
  env: string // suffix after GGUF_SERVE_
  path: string[] // where it lands in the merged config ('*' = every model's settings)
  list?: boolean
  /** Flags and env are strings; these settings may hold numbers, so digits become a number. */
  numeric?: boolean
  /** "true"/"false" become booleans (a bare flag arrives as true already). */
  boolean?: boolean
}

export const SETTINGS: readonly Setting[] = [
  { flag: 'host', env: 'HOST', path: ['server', 'host'] },
  { flag: 'port', env: 'PORT', path: ['server', 'port'], numeric: true },
  { flag: 'apiKey', env: 'API_KEY', path: ['server', 'apiKeys'], list: true },
  { flag: 'apiKeyFile', env: 'API_KEY_FILE', path: ['server', 'apiKeysFile'] },
  { flag: 'metricsToken', env: 'METRICS_TOKEN', path: ['server', 'metricsToken'] },
  { flag: 'corsOrigin', env: 'CORS_ORIGINS', path: ['server', 'corsOrigins'], list: true },
  { flag: 'rateLimit', env: 'RATE_LIMIT', path: ['server', 'rateLimit', 'max'], numeric: true },
  { flag: 'queueMax', env: 'QUEUE_MAX', path: ['server', 'queueMax'], numeric: true },
  { flag: 'docs', env: 'DOCS', path: ['server', 'docs'], boolean: true },
  { flag: 'ui', env: 'UI', path: ['server', 'ui'], boolean: true },
  { flag: 'requestTimeoutMs', env: 'REQUEST_TIMEOUT_MS', path: ['server', 'requestTimeoutMs'], numeric: true },
  { flag: 'store', env: 'STORE', path: ['responses', 'store'], boolean: true },
  { flag: 'responsesStore', env: 'RESPONSES_STORE', path: ['responses', 'storeUrl'] },
  { flag: 'logLevel', env: 'LOG_LEVEL', path: ['log', 'level'] },
  { flag: 'logPrompts', env: 'LOG_PROMPTS', path: ['log', 'prompts'], boolean: true },
  { flag: 'gpu', env: 'GPU', path: ['engine', 'gpu'] },
  { flag: 'maxLoadedModels', env: 'MAX_LOADED_MODELS', path: ['engine', 'maxLoadedModels'], numeric: true },
  { flag: 'cacheDir', env: 'CACHE_DIR', path: ['download', 'cacheDir'] },
  { flag: 'hfToken', env: 'HF_TOKEN', path: ['download', 'hfToken'] },
  { flag: 'hfEndpoint', env: 'HF_ENDPOINT', path: ['download', 'hfEndpoint'] },
  { flag: 'downloadRetryWindowMs', env: 'DOWNLOAD_RETRY_WINDOW_MS', path: ['download', 'retryWindowMs'], numeric: true },
  { flag: 'logFormat', env: 'LOG_FORMAT', path: ['log', 'format'] },
  { flag: 'contextSize', env: 'CONTEXT_SIZE', path: ['*', 'contextSize'], numeric: true },
  { flag: 'parallel', env: 'PARALLEL', path: ['*', 'parallel'], numeric: true },
  { flag: 'gpuLayers', env: 'GPU_LAYERS', path: ['*', 'gpuLayers'], numeric: true },
  { flag: 'threads', env: 'THREADS', path: ['*', 'threads'], numeric: true },
  { flag: 'maxTokens', env: 'MAX_TOKENS', path: ['*', 'maxTokens'], numeric: true },
  { flag: 'seed', env: 'SEED', path: ['*', 'seed'], numeric: true },
  { flag: 'deterministicPrefill', env: 'DETERMINISTIC_PREFILL', path: ['*', 'deterministicPrefill'], boolean: true },
  { flag: 'trustRequestChatTemplate', env: 'TRUST_REQUEST_CHAT_TEMPLATE', path: ['*', 'trustRequestChatTemplate'], boolean: true },
]

export interface ConfigSources {
  /** Parsed command-line options (commander's camelCase names); `model` may be repeated. */
  flags: Record<string, unknown>
  env: NodeJS.ProcessEnv
}

export interface LoadedConfig {
  config: Config
  models: ModelConfig[]
}

type Layer = { values: Record<string, unknown>; origin: Map<string, string> }

export function loadConfig({ flags, env }: ConfigSources): LoadedConfig {
  const file = (flags.config as string | undefined) ?? env.GGUF_SERVE_CONFIG
  const merged: Record<string, unknown> = file ? readYaml(file) : {}
  if (file) resolveConfigPaths(merged, file)
  const origins = new Map<string, string>()
  const overrides: Record<string, unknown> = {}

  for (const layer of [envLayer(env), flagLayer(flags)]) {
    for (const [key, value] of Object.entries(layer.values)) {
      const setting = SETTINGS.find((s) => s.flag === key)
      if (setting?.path[0] === '*') overrides[setting.path[1]!] = value
      else if (setting) setPath(merged, setting.path, value)
    }
    for (const [k, v] of layer.origin) origins.set(k, v)
    const models = layer.values.model as string[] | undefined
    if (models?.length) merged.models = models.map(parseModelArgument)
  }

  const config = validate(merged, origins)
  if (config.server.apiKeysFile) config.server.apiKeys = [...config.server.apiKeys, ...readKeysFile(config.server.apiKeysFile)]
  checkCredentials(config)
  const modelOverrides = validateOverrides(overrides, origins)
  // A model's own settings are the keys it really sets: schema defaults must not hide modelDefaults.
  const ownSettings = ((merged.models ?? []) as Array<Record<string, unknown>>).map((m) => ({ ...m }))
  return { config, models: resolveModels(config, ownSettings, modelOverrides) }
}

/** `--model [id=]source`: the id is optional; `hf:` URIs and URLs contain ':' but never a bare '='. */
export function parseModelArgument(argument: string): Record<string, unknown> {
  const match = /^([A-Za-z0-9][\w.@-]*)=(.+)$/.exec(argument)
  return match ? { id: match[1], source: match[2] } : { source: argument }
}

/** One key per line; blank lines and `#` comments skipped. The keys themselves never reach a message. */
function readKeysFile(file: string): string[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new StartupError(`Cannot read the API keys file ${file} (server.apiKeysFile): ${(error as NodeJS.ErrnoException).code ?? 'error'}.`)
  }
  const keys = text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line && !line.startsWith('#'))
  if (keys.length === 0) throw new StartupError(`The API keys file ${file} (server.apiKeysFile) holds no key.`)
  const malformed = keys.findIndex((key) => /\s/.test(key))
  if (malformed >= 0) throw new StartupError(`The API keys file ${file} has a key with whitespace in it (key ${malformed + 1}).`)
  return keys
}

/**
 * Keys must be what an `Authorization: Bearer <key>` header can carry (printable ASCII, no spaces): a key with a
 * space or a non-ASCII character would be accepted here and then match no request (or only via x-api-key).
 * The keys themselves never reach a message.
 */
function checkCredentials(config: Config): void {
  const credentials: Array<[string, string | undefined]> = [
    ...config.server.apiKeys.map((key, i): [string, string] => [`API key ${i + 1} (server.apiKeys, --api-key, --api-key-file)`, key]),
    ['The metrics token (server.metricsToken, --metrics-token)', config.server.metricsToken],
  ]
  const bad = credentials.find(([, value]) => value !== undefined && !/^[!-~]+$/.test(value))
  if (bad) {
    throw new StartupError(
      `${bad[0]} has a space, control or non-ASCII character, which an "Authorization: Bearer" header cannot carry; use printable ASCII characters only.`,
    )
  }
}

function readYaml(file: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new StartupError(`Cannot read config file ${file}: ${(error as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text)
  } catch (error) {
    throw new StartupError(`Config file ${file} is not valid YAML: ${(error as Error).message}`)
  }
  if (parsed == null) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new StartupError(`Config file ${file} must hold a mapping of settings at the top level.`)
  }
  return parsed as Record<string, unknown>
}

function envLayer(env: NodeJS.ProcessEnv): Layer {
  const values: Record<string, unknown> = {}
  const origin = new Map<string, string>()
  for (const s of SETTINGS) {
    const raw = env[`GGUF_SERVE_${s.env}`]
    if (raw === undefined || raw === '') continue
    values[s.flag] = s.list ? raw.split(',').map((x) => x.trim()).filter(Boolean) : coerce(raw, s)
    origin.set(s.flag, `GGUF_SERVE_${s.env}`)
  }
  if (env.GGUF_SERVE_MODEL) {
    values.model = [env.GGUF_SERVE_MODEL]
    origin.set('model', 'GGUF_SERVE_MODEL')
  }
  return { values, origin }
}

function flagLayer(flags: Record<string, unknown>): Layer {
  const values: Record<string, unknown> = {}
  const origin = new Map<string, string>()
  for (const s of SETTINGS) {
    const raw = flags[s.flag]
    if (raw === undefined) continue
    values[s.flag] = s.list ? [raw].flat() : typeof raw === 'string' ? coerce(raw, s) : raw
    origin.set(s.flag, `--${s.flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
  }
  if (Array.isArray(flags.model) && flags.model.length) {
    values.model = flags.model
    origin.set('model', '--model')
  }
  return { values, origin }
}

/** Digits from flags and env become numbers where the setting takes one; the schema judges the rest. */
function coerce(raw: string, setting: Setting): unknown {
  if (setting.boolean && (raw === 'true' || raw === 'false')) return raw === 'true'
  return setting.numeric && /^-?\d+$/.test(raw) ? Number(raw) : raw
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path.at(-1)!] = value
}

function validate(raw: Record<string, unknown>, origins: Map<string, string>): Config {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw)) as unknown
  assertValid(ConfigSchema, withDefaults, '', origins)
  return withDefaults as Config
}

function validateOverrides(raw: Record<string, unknown>, origins: Map<string, string>) {
  const partial = { ...ModelSettingsSchema, required: [] } as TSchema
  assertValid(partial, raw, 'models/*', origins)
  return raw
}

function assertValid(schema: TSchema, value: unknown, prefix: string, origins: Map<string, string>): void {
  const error = Value.Errors(schema, value).First()
  if (!error) return
  const path = `${prefix}${error.path}`.replace(/^\//, '').replaceAll('/', '.') || '(top level)'
  const setting = SETTINGS.find((s) => `${prefix}${error.path}` === (s.path[0] === '*' ? `models/*/${s.path[1]}` : `/${s.path.join('/')}`))
  const origin = setting && origins.get(setting.flag)
  const unknownKey = error.message.includes('additional properties') || error.message.includes('Unexpected property')
  const message = unknownKey
    ? `Unknown config key '${path}'.`
    : `Invalid config value at '${path}'${origin ? ` (from ${origin})` : ''}: got ${JSON.stringify(error.value)}, expected ${describeSchema(error.schema)}.`
  throw new StartupError(message)
}

/** A human description of what a schema allows, for error messages. */
export function describeSchema(schema: TSchema): string {
  if (schema.anyOf) return (schema.anyOf as TSchema[]).map(describeSchema).join(' or ')
  if (schema.const !== undefined) return JSON.stringify(schema.const)
  const bounds = [
    schema.minimum !== undefined ? `>= ${schema.minimum}` : '',
    schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : '',
    schema.maximum !== undefined ? `<= ${schema.maximum}` : '',
  ].filter(Boolean)
  switch (schema.type) {
    case 'integer':
      return `an integer${bounds.length ? ` ${bounds.join(' and ')}` : ''}`
    case 'number':
      return `a number${bounds.length ? ` ${bounds.join(' and ')}` : ''}`
    case 'string':
      return schema.minLength ? 'a non-empty string' : 'a string'
    case 'array':
      return 'a list'
    case 'object':
      return 'a mapping'
    default:
      return String(schema.type ?? 'a valid value')
  }
}

function resolveModels(
  config: Config,
  ownSettings: Array<Record<string, unknown>>,
  overrides: Record<string, unknown>,
): ModelConfig[] {
  const seen = new Set<string>()
  const models = config.models.map((entry, index): ModelConfig => {
    const id = entry.id ?? defaultModelId(entry.source)
    // Aliases may be patterns (`claude-*`); an id is what responses and /v1/models name, so it is literal.
    if (id.includes('*')) throw new StartupError(`Model id '${id}' (models.${index}.id) contains '*'; only aliases may be patterns.`)
    for (const name of [id, ...entry.aliases]) {
      if (seen.has(name)) throw new StartupError(`Model id or alias '${name}' is used twice in models.`)
      seen.add(name)
    }
    const { chatTemplate } = entry
    if (chatTemplate !== undefined) checkChatTemplate(chatTemplate, `models.${index}.chatTemplate`)
    const { id: _i, source: _s, aliases: _a, preload: _p, chatTemplate: _c, defaults: _d, ...own } = ownSettings[index] ?? {}
    return {
      ...config.modelDefaults,
      ...own,
      ...overrides,
      id,
      source: entry.source,
      aliases: entry.aliases,
      // Without a word from the config the first model is loaded at start, the others on first use.
      preload: entry.preload ?? index === 0,
      ...(chatTemplate === undefined ? {} : { chatTemplate }),
      defaults: entry.defaults ?? {},
    } as ModelConfig
  })
  const preloaded = models.filter((m) => m.preload)
  if (preloaded.length > config.engine.maxLoadedModels) {
    throw new StartupError(
      `${preloaded.length} models are to be loaded at start (${preloaded.map((m) => m.id).join(', ')}), but ` +
        `engine.maxLoadedModels is ${config.engine.maxLoadedModels}: raise it or set preload: false on some.`,
    )
  }
  return models
}

/** A template that does not parse would otherwise fail only when the model loads, possibly hours later. */
function checkChatTemplate(source: string, path: string): void {
  try {
    new Template(source)
  } catch (error) {
    throw new StartupError(`Invalid config value at '${path}': the Jinja template does not parse: ${(error as Error).message}.`)
  }
}

/** `./models/Qwen2.5-0.5B-Q8_0.gguf` → `Qwen2.5-0.5B-Q8_0`; `hf:org/repo:Q4_K_M` → `org/repo:Q4_K_M`. */
export function defaultModelId(source: string): string {
  if (source.startsWith('hf:')) return source.slice(3).replace(/\.gguf$/i, '')
  const path = /^https?:\/\//i.test(source) ? new URL(source).pathname : source
  return basename(path).replace(/\.gguf$/i, '') || source
}
