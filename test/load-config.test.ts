import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Type } from '@sinclair/typebox'
import { afterAll, describe, expect, it } from 'vitest'
import { defaultModelId, describeSchema, loadConfig } from '../src/config/load-config.js'
import { StartupError } from '../src/errors.js'
import { DEFAULT_MODEL } from '../src/models/default-model.js'

const dir = mkdtempSync(path.join(os.tmpdir(), 'gguf-serve-load-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let fileCount = 0
function yamlFile(text: string): string {
  const file = path.join(dir, `config-${fileCount++}.yaml`)
  writeFileSync(file, text)
  return file
}

/** Runs loadConfig expecting a StartupError, and returns its message. */
function startupError(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig({ flags, env })
  } catch (error) {
    expect(error).toBeInstanceOf(StartupError)
    return (error as Error).message
  }
  return expect.fail('loadConfig did not throw')
}

const BASE_YAML = `
server:
  port: 1111
  host: 10.0.0.1
log:
  level: warn
models:
  - id: small
    source: ./models/small.gguf
    contextSize: 8192
    parallel: 8
    threads: 2
    gpuLayers: 10
  - source: ./models/other.gguf
`

describe('loadConfig: defaults', () => {
  it('with nothing given, every key has its default and the default model is served', () => {
    const { config, models } = loadConfig({ flags: {}, env: {} })
    expect(models).toMatchObject([{ id: DEFAULT_MODEL.id, source: DEFAULT_MODEL.source, preload: true, contextSize: 4096 }])
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      apiKeys: [],
      bodyLimitBytes: 8 * 1024 * 1024,
      shutdownGraceMs: 30_000,
      requestTimeoutMs: 600_000,
      queueMax: 64,
      docs: false,
      ui: true,
      corsOrigins: ['*'],
      rateLimit: { max: 0, windowMs: 60_000, failedAuthMax: 20 },
      headersTimeoutMs: 10_000,
      bodyTimeoutMs: 30_000,
      keepAliveTimeoutMs: 72_000,
      streamPingMs: 1000,
    })
    expect(config.server.apiKeysFile).toBeUndefined()
    expect(config.server.metricsToken).toBeUndefined()
    expect(config.engine.gpu).toBe('auto')
    expect(config.log).toEqual({ level: 'info', format: 'auto', prompts: false })
    expect(config.download.cacheDir).toBe('models')
    expect(config.download.hfToken).toBeUndefined()
  })

  it('a model from a flag gets every model setting from the defaults', () => {
    const { models } = loadConfig({ flags: { model: ['./m/tiny.gguf'] }, env: {} })
    expect(models).toEqual([
      {
        id: 'tiny',
        source: './m/tiny.gguf',
        aliases: [],
        contextSize: 4096,
        parallel: 4,
        gpuLayers: 'auto',
        threads: 'auto',
        maxTokens: 8192,
        maxChoices: 8,
        maxFanOut: 16,
        batchSize: 512,
        prefillChunkTokens: 128,
        deterministicPrefill: false,
        trustRequestChatTemplate: false,
        seed: null,
        ttl: 0,
        preload: true,
        defaults: {},
      },
    ])
  })

  it('an empty YAML file is the same as no file', () => {
    const file = yamlFile('')
    expect(loadConfig({ flags: { config: file }, env: {} })).toEqual(loadConfig({ flags: {}, env: {} }))
  })
})

describe('loadConfig: precedence flags > env > YAML > defaults, per key', () => {
  const file = yamlFile(BASE_YAML)

  it('YAML overrides defaults', () => {
    const { config } = loadConfig({ flags: { config: file }, env: {} })
    expect(config.server.port).toBe(1111)
    expect(config.server.host).toBe('10.0.0.1')
    expect(config.log.level).toBe('warn')
    expect(config.server.queueMax).toBe(64) // untouched keys keep their defaults
  })

  it('env overrides YAML, only for the keys it sets', () => {
    const { config } = loadConfig({ flags: { config: file }, env: { GGUF_SERVE_PORT: '2222' } })
    expect(config.server.port).toBe(2222)
    expect(config.server.host).toBe('10.0.0.1')
    expect(config.log.level).toBe('warn')
  })

  it('a flag overrides env and YAML, only for the keys it sets', () => {
    const { config } = loadConfig({
      flags: { config: file, port: '3333' },
      env: { GGUF_SERVE_PORT: '2222', GGUF_SERVE_LOG_LEVEL: 'debug' },
    })
    expect(config.server.port).toBe(3333)
    expect(config.log.level).toBe('debug')
    expect(config.server.host).toBe('10.0.0.1')
  })

  it('the config file can be named by GGUF_SERVE_CONFIG; --config wins over it', () => {
    const other = yamlFile('server:\n  port: 4444\n')
    expect(loadConfig({ flags: {}, env: { GGUF_SERVE_CONFIG: file } }).config.server.port).toBe(1111)
    expect(loadConfig({ flags: { config: other }, env: { GGUF_SERVE_CONFIG: file } }).config.server.port).toBe(4444)
  })

  it('env values are coerced: numbers, and comma-separated API keys', () => {
    const { config } = loadConfig({
      flags: {},
      env: { GGUF_SERVE_PORT: '0', GGUF_SERVE_API_KEY: ' k1, k2 ,,k3 ', GGUF_SERVE_GPU: 'none', GGUF_SERVE_HOST: '0.0.0.0' },
    })
    expect(config.server.port).toBe(0)
    expect(config.server.apiKeys).toEqual(['k1', 'k2', 'k3'])
    expect(config.engine.gpu).toBe('none')
    expect(config.server.host).toBe('0.0.0.0')
  })

  it('docs: GGUF_SERVE_DOCS=true and a bare --docs both turn server.docs on', () => {
    expect(loadConfig({ flags: {}, env: { GGUF_SERVE_DOCS: 'true' } }).config.server.docs).toBe(true)
    expect(loadConfig({ flags: { docs: true }, env: { GGUF_SERVE_DOCS: 'false' } }).config.server.docs).toBe(true)
  })

  it('empty env values are ignored', () => {
    const { config } = loadConfig({ flags: { config: file }, env: { GGUF_SERVE_PORT: '', GGUF_SERVE_HOST: '' } })
    expect(config.server.port).toBe(1111)
    expect(config.server.host).toBe('10.0.0.1')
  })

  it('repeated --api-key flags replace the env list', () => {
    const { config } = loadConfig({ flags: { apiKey: ['a', 'b'] }, env: { GGUF_SERVE_API_KEY: 'c' } })
    expect(config.server.apiKeys).toEqual(['a', 'b'])
  })

  it('ui: on by default, --no-ui (commander: ui false) and GGUF_SERVE_UI=false turn it off, the flag winning', () => {
    expect(loadConfig({ flags: { ui: false }, env: {} }).config.server.ui).toBe(false)
    expect(loadConfig({ flags: {}, env: { GGUF_SERVE_UI: 'false' } }).config.server.ui).toBe(false)
    expect(loadConfig({ flags: { ui: true }, env: { GGUF_SERVE_UI: 'false' } }).config.server.ui).toBe(true)
    expect(loadConfig({ flags: { config: yamlFile('server:\n  ui: false\n') }, env: {} }).config.server.ui).toBe(false)
  })

  it('hardening settings from flags and env: CORS origins, rate limit, metrics token', () => {
    const { config } = loadConfig({
      flags: { corsOrigin: ['https://a.example', 'https://b.example'] },
      env: { GGUF_SERVE_RATE_LIMIT: '30', GGUF_SERVE_METRICS_TOKEN: 'm-token', GGUF_SERVE_CORS_ORIGINS: 'https://c.example' },
    })
    expect(config.server.corsOrigins).toEqual(['https://a.example', 'https://b.example'])
    expect(config.server.rateLimit).toEqual({ max: 30, windowMs: 60_000, failedAuthMax: 20 })
    expect(config.server.metricsToken).toBe('m-token')
  })

  it('API keys from a file join the listed ones; comments and blank lines are skipped', () => {
    const keys = path.join(dir, 'keys.txt')
    writeFileSync(keys, '# team A\nkey-one\n\n  key-two  \r\n# old: key-zero\n')
    const { config } = loadConfig({ flags: { apiKeyFile: keys, apiKey: ['cli-key'] }, env: {} })
    expect(config.server.apiKeys).toEqual(['cli-key', 'key-one', 'key-two'])
  })

  it('an API keys file that is missing or holds no key stops the start, without printing any key', () => {
    expect(startupError({ apiKeyFile: path.join(dir, 'absent.txt') })).toMatch(/Cannot read the API keys file .*absent\.txt.*ENOENT/)
    const empty = path.join(dir, 'empty-keys.txt')
    writeFileSync(empty, '# nothing yet\n\n')
    expect(startupError({ apiKeyFile: empty })).toMatch(/holds no key/)
    const spaced = path.join(dir, 'spaced-keys.txt')
    writeFileSync(spaced, 'good-key\nbad key-secret\n')
    const message = startupError({ apiKeyFile: spaced })
    expect(message).toMatch(/whitespace in it \(key 2\)/)
    expect(message).not.toContain('secret')
  })

  it('refuses at start an API key or metrics token that a Bearer header cannot carry, without printing it', () => {
    for (const key of ['has space-secret', 'tab\tsecret', 'ünïcode-secret']) {
      const message = startupError({ apiKey: ['fine-key', key] })
      expect(message).toMatch(/API key 2 .*Authorization: Bearer/)
      expect(message).not.toContain('secret')
    }
    expect(startupError({ metricsToken: 'scrape me' })).toMatch(/metrics token .*cannot carry/)
    expect(loadConfig({ flags: { apiKey: ['sk-Ab_1.~+/='] }, env: {} }).config.server.apiKeys).toEqual(['sk-Ab_1.~+/='])
  })

  it('unrelated environment variables and flags are ignored', () => {
    const { config } = loadConfig({ flags: { verbose: true, somethingElse: 'x' }, env: { PORT: '1', GGUF_SERVE_NOPE: 'x' } })
    expect(config.server.port).toBe(8080)
  })
})

describe('loadConfig: relative paths in a config file', () => {
  it('resolve against the file\'s folder, not the working directory', () => {
    const sub = path.join(dir, 'sub')
    mkdirSync(sub, { recursive: true })
    writeFileSync(path.join(sub, 'keys.txt'), 'k1\n')
    writeFileSync(path.join(sub, 'beside.gguf'), '')
    const file = path.join(sub, 'relative.yaml')
    writeFileSync(file, `
server:
  apiKeysFile: keys.txt
download:
  cacheDir: ../cache
models:
  - source: ./m/a.gguf
  - source: beside.gguf
  - source: stories260K-chatml
  - source: hf:org/repo:Q8_0
  - source: /abs/b.gguf
`)
    const { config, models } = loadConfig({ flags: { config: file }, env: {} })
    expect(config.server.apiKeysFile).toBe(path.join(sub, 'keys.txt'))
    expect(config.server.apiKeys).toEqual(['k1'])
    expect(config.download.cacheDir).toBe(path.join(dir, 'cache'))
    expect(models.map((m) => m.source)).toEqual([
      path.join(sub, 'm/a.gguf'),
      path.join(sub, 'beside.gguf'),
      // Not beside the file and not spelled as a path: a cached model's name, looked up in the cache.
      'stories260K-chatml',
      'hf:org/repo:Q8_0',
      '/abs/b.gguf',
    ])
    expect(models.map((m) => m.id)).toEqual(['a', 'beside', 'stories260K-chatml', 'org/repo:Q8_0', 'b'])
  })

  it('flags and environment paths stay relative to the working directory', () => {
    const { config, models } = loadConfig({ flags: { cacheDir: 'here', model: ['./x.gguf'] }, env: {} })
    expect(config.download.cacheDir).toBe('here')
    expect(models[0]!.source).toBe('./x.gguf')
  })
})

describe('loadConfig: model-level settings', () => {
  const file = yamlFile(BASE_YAML)

  it('YAML model entries keep their own settings; the id defaults to the file name', () => {
    const { models } = loadConfig({ flags: { config: file }, env: {} })
    expect(models.map((m) => m.id)).toEqual(['small', 'other'])
    expect(models[0]).toMatchObject({ contextSize: 8192, parallel: 8, threads: 2, gpuLayers: 10 })
    expect(models[1]).toMatchObject({ contextSize: 4096, parallel: 4, threads: 'auto', gpuLayers: 'auto' })
  })

  it('env model settings override every YAML model entry', () => {
    const { models } = loadConfig({
      flags: { config: file },
      env: { GGUF_SERVE_CONTEXT_SIZE: '2048', GGUF_SERVE_PARALLEL: '2', GGUF_SERVE_THREADS: '3', GGUF_SERVE_GPU_LAYERS: '0' },
    })
    for (const model of models) expect(model).toMatchObject({ contextSize: 2048, parallel: 2, threads: 3, gpuLayers: 0 })
  })

  it('flag model settings override env and YAML, per key', () => {
    const { models } = loadConfig({
      flags: { config: file, contextSize: '1024', threads: 'auto', gpuLayers: 'auto' },
      env: { GGUF_SERVE_CONTEXT_SIZE: '2048', GGUF_SERVE_PARALLEL: '2' },
    })
    for (const model of models) {
      expect(model).toMatchObject({ contextSize: 1024, parallel: 2, threads: 'auto', gpuLayers: 'auto' })
    }
  })

  it('--seed / GGUF_SERVE_SEED set every model\'s default sampling seed; a bad one names the key', () => {
    expect(loadConfig({ flags: { config: file, seed: '42' }, env: { GGUF_SERVE_SEED: '7' } }).models.map((m) => m.seed)).toEqual([42, 42])
    expect(loadConfig({ flags: { config: file }, env: { GGUF_SERVE_SEED: '7' } }).models.every((m) => m.seed === 7)).toBe(true)
    expect(loadConfig({ flags: { config: file }, env: {} }).models.every((m) => m.seed === null)).toBe(true)
    expect(startupError({ model: ['x.gguf'], seed: '-1' })).toContain('seed')
  })

  it('model settings from flags do not change the other keys of the entries', () => {
    const { models } = loadConfig({ flags: { config: file, parallel: '1' }, env: {} })
    expect(models[0]).toMatchObject({ id: 'small', source: path.join(dir, 'models/small.gguf'), aliases: [], contextSize: 8192, parallel: 1 })
  })

  it('an entry\'s own settings win over modelDefaults', () => {
    const defaults = yamlFile(`
modelDefaults:
  contextSize: 8192
models:
  - source: ./m/a.gguf
    contextSize: 512
`)
    const { models } = loadConfig({ flags: { config: defaults }, env: {} })
    expect(models[0]?.contextSize).toBe(512)
  })

  it('modelDefaults from YAML apply to entries that do not set their own', () => {
    const defaults = yamlFile(`
modelDefaults:
  contextSize: 8192
  parallel: 2
models:
  - source: ./m/a.gguf
  - source: ./m/b.gguf
    parallel: 8
`)
    const { models } = loadConfig({ flags: { config: defaults }, env: {} })
    expect(models[0]).toMatchObject({ id: 'a', contextSize: 8192, parallel: 2 })
    expect(models[1]).toMatchObject({ id: 'b', contextSize: 8192, parallel: 8 })
  })
})

describe('loadConfig: --model arguments', () => {
  it('plain source: the id comes from the file name', () => {
    const { models } = loadConfig({ flags: { model: ['./models/Qwen2.5-0.5B-Q8_0.gguf'] }, env: {} })
    expect(models.map((m) => [m.id, m.source])).toEqual([['Qwen2.5-0.5B-Q8_0', './models/Qwen2.5-0.5B-Q8_0.gguf']])
  })

  it('id=source names the model', () => {
    const { models } = loadConfig({ flags: { model: ['qwen=./models/Qwen2.5-0.5B-Q8_0.gguf'] }, env: {} })
    expect(models.map((m) => [m.id, m.source])).toEqual([['qwen', './models/Qwen2.5-0.5B-Q8_0.gguf']])
  })

  it('an hf: URI is not split on ":"', () => {
    const { models } = loadConfig({ flags: { model: ['hf:org/repo:Q4_K_M'] }, env: {} })
    expect(models.map((m) => [m.id, m.source])).toEqual([['org/repo:Q4_K_M', 'hf:org/repo:Q4_K_M']])
  })

  it('id=hf:URI and id=URL with "=" in its query keep the whole source', () => {
    const { models } = loadConfig({
      flags: { model: ['q4=hf:org/repo:Q4_K_M', 'web=https://example.com/m.gguf?download=true&x=1'] },
      env: {},
    })
    expect(models.map((m) => [m.id, m.source])).toEqual([
      ['q4', 'hf:org/repo:Q4_K_M'],
      ['web', 'https://example.com/m.gguf?download=true&x=1'],
    ])
  })

  it('a URL with "=" in its query and no id is a plain source', () => {
    const { models } = loadConfig({ flags: { model: ['https://example.com/dir/Model-Q8_0.gguf?download=true'] }, env: {} })
    expect(models.map((m) => [m.id, m.source])).toEqual([
      ['Model-Q8_0', 'https://example.com/dir/Model-Q8_0.gguf?download=true'],
    ])
  })

  it('repeated --model serves every model, in order', () => {
    const { models } = loadConfig({ flags: { model: ['./a.gguf', 'b=./x/b.gguf', 'hf:org/c:Q8_0'] }, env: {} })
    expect(models.map((m) => m.id)).toEqual(['a', 'b', 'org/c:Q8_0'])
  })

  it('--model replaces the YAML model list; GGUF_SERVE_MODEL does too, and --model wins over it', () => {
    const file = yamlFile(BASE_YAML)
    expect(loadConfig({ flags: { config: file, model: ['./z.gguf'] }, env: {} }).models.map((m) => m.id)).toEqual(['z'])
    expect(loadConfig({ flags: { config: file }, env: { GGUF_SERVE_MODEL: 'e=./e.gguf' } }).models.map((m) => m.id)).toEqual(['e'])
    expect(
      loadConfig({ flags: { config: file, model: ['./f.gguf'] }, env: { GGUF_SERVE_MODEL: './e.gguf' } }).models.map((m) => m.id),
    ).toEqual(['f'])
  })

  it('an empty --model list keeps the YAML models', () => {
    const file = yamlFile(BASE_YAML)
    expect(loadConfig({ flags: { config: file, model: [] }, env: {} }).models.map((m) => m.id)).toEqual(['small', 'other'])
  })
})

describe('loadConfig: invalid values', () => {
  it('port "abc" from a flag names the key, the flag and the allowed range', () => {
    const message = startupError({ port: 'abc' })
    expect(message).toContain('server.port')
    expect(message).toContain('--port')
    expect(message).toContain('"abc"')
    expect(message).toMatch(/integer >= 0 and <= 65535/)
  })

  it('port out of range from env names the env variable', () => {
    const message = startupError({}, { GGUF_SERVE_PORT: '70000' })
    expect(message).toContain('server.port')
    expect(message).toContain('GGUF_SERVE_PORT')
    expect(message).toContain('70000')
  })

  it('gpu "tpu" lists the allowed backends', () => {
    const message = startupError({ gpu: 'tpu' })
    expect(message).toContain('engine.gpu')
    expect(message).toContain('"tpu"')
    for (const allowed of ['auto', 'cuda', 'vulkan', 'metal', 'none']) expect(message).toContain(`"${allowed}"`)
  })

  it('parallel 0 from a flag names the model setting and its bounds', () => {
    const message = startupError({ parallel: '0', model: ['./a.gguf'] })
    expect(message).toContain('parallel')
    expect(message).toContain('--parallel')
    expect(message).toMatch(/>= 1 and <= 64/)
  })

  it('threads "many" from env names the env variable and what is allowed', () => {
    const message = startupError({}, { GGUF_SERVE_THREADS: 'many' })
    expect(message).toContain('threads')
    expect(message).toContain('GGUF_SERVE_THREADS')
    expect(message).toContain('"auto"')
  })

  it('an invalid value in a YAML model entry names its path', () => {
    const file = yamlFile('models:\n  - source: ./a.gguf\n    contextSize: 10\n')
    const message = startupError({ config: file })
    expect(message).toContain('models.0.contextSize')
    expect(message).toContain('>= 64')
  })

  it('a log level that does not exist is refused', () => {
    expect(startupError({ logLevel: 'loud' })).toContain('log.level')
  })

  it('an unknown key in YAML is refused by name', () => {
    expect(startupError({ config: yamlFile('server:\n  port: 1\n  prot: 2\n') })).toContain("'server.prot'")
    expect(startupError({ config: yamlFile('sever:\n  port: 1\n') })).toContain("'sever'")
    expect(startupError({ config: yamlFile('models:\n  - source: ./a.gguf\n    ctx: 1\n') })).toContain("'models.0.ctx'")
  })

  it('a model entry without source is refused', () => {
    expect(startupError({ config: yamlFile('models:\n  - id: x\n') })).toContain('models.0')
  })

  it('invalid YAML syntax names the file', () => {
    const file = yamlFile('server:\n  port: [1, 2\n')
    const message = startupError({ config: file })
    expect(message).toContain(file)
    expect(message).toMatch(/not valid YAML/)
  })

  it('a YAML file whose top level is not a mapping is refused', () => {
    expect(startupError({ config: yamlFile('- a\n- b\n') })).toMatch(/mapping/)
    expect(startupError({ config: yamlFile('just a string\n') })).toMatch(/mapping/)
  })

  it('a missing config file names the file', () => {
    const missing = path.join(dir, 'does-not-exist.yaml')
    expect(startupError({ config: missing })).toContain(missing)
    expect(startupError({}, { GGUF_SERVE_CONFIG: missing })).toContain(missing)
  })

  it('duplicate model ids are refused', () => {
    expect(startupError({ model: ['./a/m.gguf', './b/m.gguf'] })).toContain("'m'")
    expect(startupError({ model: ['x=./a.gguf', 'x=./b.gguf'] })).toContain("'x'")
  })

  it('an alias that collides with another model id or alias is refused', () => {
    const idVsAlias = yamlFile('models:\n  - source: ./a.gguf\n  - source: ./b.gguf\n    aliases: [a]\n')
    expect(startupError({ config: idVsAlias })).toContain("'a'")
    const aliasVsAlias = yamlFile(
      'models:\n  - source: ./a.gguf\n    aliases: [chat]\n  - source: ./b.gguf\n    aliases: [chat]\n',
    )
    expect(startupError({ config: aliasVsAlias })).toContain("'chat'")
    const selfAlias = yamlFile('models:\n  - source: ./a.gguf\n    aliases: [a]\n')
    expect(startupError({ config: selfAlias })).toContain("'a'")
  })

  it('distinct ids and aliases are accepted', () => {
    const file = yamlFile('models:\n  - source: ./a.gguf\n    aliases: [x, y]\n  - source: ./b.gguf\n    aliases: [z]\n')
    const { models } = loadConfig({ flags: { config: file }, env: {} })
    expect(models.map((m) => [m.id, m.aliases])).toEqual([
      ['a', ['x', 'y']],
      ['b', ['z']],
    ])
  })

  it("aliases may be patterns ('claude-*'); ids may not", () => {
    const file = yamlFile('models:\n  - source: ./a.gguf\n    aliases: ["claude-*"]\n')
    expect(loadConfig({ flags: { config: file }, env: {} }).models[0]!.aliases).toEqual(['claude-*'])
    const starId = yamlFile('models:\n  - id: "m*"\n    source: ./a.gguf\n')
    expect(startupError({ config: starId })).toContain("only aliases may be patterns")
  })

  it('a bad YAML value is not blamed on an env variable that sets the same key for every model', () => {
    const file = yamlFile('models:\n  - source: ./a.gguf\n    parallel: 0\n')
    const message = startupError({ config: file }, { GGUF_SERVE_PARALLEL: '2' })
    expect(message).toContain('models.0.parallel')
    expect(message).not.toContain('GGUF_SERVE_PARALLEL')
  })

  it('a string setting whose value looks like a number stays a string', () => {
    const { config } = loadConfig({ flags: { cacheDir: '2024' }, env: {} })
    expect(config.download.cacheDir).toBe('2024')
  })
})

describe('defaultModelId', () => {
  it.each([
    ['./models/Qwen2.5-0.5B-Q8_0.gguf', 'Qwen2.5-0.5B-Q8_0'],
    ['/abs/path/Model.GGUF', 'Model'],
    ['relative.gguf', 'relative'],
    ['./models/no-extension', 'no-extension'],
    ['https://example.com/dir/Phi-3-mini-Q4.gguf', 'Phi-3-mini-Q4'],
    ['https://example.com/dir/Phi-3-mini-Q4.gguf?download=true#frag', 'Phi-3-mini-Q4'],
    ['HTTP://EXAMPLE.COM/a/b.gguf', 'b'],
    ['hf:org/repo:Q4_K_M', 'org/repo:Q4_K_M'],
    ['hf:org/repo/file-Q8_0.gguf', 'org/repo/file-Q8_0'],
    ['hf:org/repo', 'org/repo'],
  ])('%s → %s', (source, id) => {
    expect(defaultModelId(source)).toBe(id)
  })

  it('falls back to the source when there is no file name', () => {
    expect(defaultModelId('https://example.com/')).toBe('https://example.com/')
  })
})

describe('describeSchema', () => {
  it.each([
    [Type.Integer({ minimum: 1, maximum: 64 }), 'an integer >= 1 and <= 64'],
    [Type.Integer({ minimum: 0 }), 'an integer >= 0'],
    [Type.Integer(), 'an integer'],
    [Type.Number({ maximum: 2 }), 'a number <= 2'],
    [Type.String(), 'a string'],
    [Type.String({ minLength: 1 }), 'a non-empty string'],
    [Type.Array(Type.String()), 'a list'],
    [Type.Object({}), 'a mapping'],
    [Type.Literal('auto'), '"auto"'],
    [Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0 })]), '"auto" or an integer >= 0'],
  ])('%# describes what is allowed', (schema, text) => {
    expect(describeSchema(schema)).toBe(text)
  })
})

describe('loadConfig: several models', () => {
  it('preloads the first model unless told otherwise, and resolves per-model template, sampling defaults and ttl', () => {
    const file = yamlFile(`
modelDefaults:
  ttl: 300
models:
  - id: qwen
    source: ./q.gguf
    aliases: [qwen@8k]
    contextSize: 8192
  - id: qwen@32k
    source: ./q.gguf
    contextSize: 32768
    ttl: 0
    chatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}"
    defaults: { temperature: 0.2, topP: 0.9, maxTokens: 256 }
  - id: other
    source: ./o.gguf
    preload: true
`)
    const { config, models } = loadConfig({ flags: { config: file }, env: {} })
    expect(config.engine.maxLoadedModels).toBe(2)
    expect(models.map((m) => [m.id, m.preload, m.ttl, m.contextSize])).toEqual([
      ['qwen', true, 300, 8192],
      ['qwen@32k', false, 0, 32768],
      ['other', true, 300, 4096],
    ])
    expect(models[0]!.chatTemplate).toBeUndefined()
    expect(models[0]!.defaults).toEqual({})
    expect(models[1]!.chatTemplate).toContain('m.content')
    expect(models[1]!.defaults).toEqual({ temperature: 0.2, topP: 0.9, maxTokens: 256 })
  })

  it('takes --max-loaded-models and GGUF_SERVE_MAX_LOADED_MODELS', () => {
    expect(loadConfig({ flags: { maxLoadedModels: '3' }, env: {} }).config.engine.maxLoadedModels).toBe(3)
    expect(loadConfig({ flags: {}, env: { GGUF_SERVE_MAX_LOADED_MODELS: '5' } }).config.engine.maxLoadedModels).toBe(5)
  })

  it('refuses more preloaded models than may be loaded at once', () => {
    const file = yamlFile(`
engine:
  maxLoadedModels: 1
models:
  - { source: ./a.gguf }
  - { source: ./b.gguf, preload: true }
`)
    expect(startupError({ config: file })).toMatch(/2 models are to be loaded at start \(a, b\).*maxLoadedModels is 1/)
  })

  it('refuses a chat template that does not parse, naming the key', () => {
    const file = yamlFile(`
models:
  - { source: ./a.gguf }
  - { source: ./b.gguf, chatTemplate: "{% for m in %}" }
`)
    expect(startupError({ config: file })).toMatch(/^Invalid config value at 'models\.1\.chatTemplate': the Jinja template does not parse/)
  })

  it('names a bad sampling default', () => {
    const file = yamlFile(`
models:
  - { source: ./a.gguf, defaults: { topP: 1.5 } }
`)
    expect(startupError({ config: file })).toMatch(/'models\.0\.defaults\.topP'.*got 1.5, expected a number >= 0 and <= 1/)
  })
})
