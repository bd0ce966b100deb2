import { Type, type Static } from '@sinclair/typebox'
import { DEFAULT_MODEL } from '../models/default-model.js'

/**
 * The one config schema. Every key has a default and a description; `config.example.yaml` documents the
 * same keys. `Static<typeof ConfigSchema>` is the only config type in the code base.
 */

const Auto = Type.Literal('auto')

export const ModelSettingsSchema = Type.Object(
  {
    contextSize: Type.Integer({
      minimum: 64,
      default: 4096,
      description: 'Context window per slot, in tokens; capped at the model\'s training context.',
    }),
    parallel: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 4,
      description: 'Parallel slots (context sequences): requests generated at the same time.',
    }),
    gpuLayers: Type.Union([Auto, Type.Integer({ minimum: 0 })], {
      default: 'auto',
      description: 'Layers offloaded to the GPU: "auto" fits as many as memory allows, 0 keeps the model on the CPU.',
    }),
    threads: Type.Union([Auto, Type.Integer({ minimum: 1, maximum: 512 })], {
      default: 'auto',
      description:
        'CPU threads for evaluation. "auto" uses the CPUs this process may run on (cgroup quota and affinity), ' +
        'but 1 thread for models under 32 MB, where more threads only contend.',
    }),
    maxTokens: Type.Integer({
      minimum: 1,
      default: 8192,
      description: 'Completion tokens a request may generate when it names no max_tokens (and its ceiling).',
    }),
    maxChoices: Type.Integer({
      minimum: 1,
      maximum: 64,
      default: 8,
      description: 'Largest n (choices per request); n also needs that many free slots (parallel).',
    }),
    maxFanOut: Type.Integer({
      minimum: 1,
      maximum: 1024,
      default: 16,
      description:
        'Generations one request may ask for: its prompts (a completions prompt list) times n. Each counts against ' +
        'the queue (queueMax) and the rate limit like a request of its own; more get 400 fan_out_too_large.',
    }),
    batchSize: Type.Integer({
      minimum: 16,
      default: 512,
      description: 'Tokens evaluated per engine step at most (prompt chunks of all slots plus one per decoding slot).',
    }),
    prefillChunkTokens: Type.Integer({
      minimum: 8,
      default: 128,
      description:
        'With deterministicPrefill: prompts are evaluated in chunks that start at multiples of this many tokens, ' +
        'so that cached prefixes reuse exactly the same batches as a fresh run (same seed, same output).',
    }),
    deterministicPrefill: Type.Boolean({
      default: false,
      description:
        'Same seed, same output even when a cached prefix is reused: prompts go in aligned chunks of ' +
        'prefillChunkTokens and only whole chunks are reused. Off: a prompt goes in as few batches as the batch ' +
        'size allows and any cached prefix is reused (faster; llama.cpp\'s numbers depend on the batch split, so ' +
        'a warm run may then differ from a cold one).',
    }),
    trustRequestChatTemplate: Type.Boolean({
      default: false,
      description:
        'Let requests replace the chat template (chat_template): a template is a program run on the event loop, ' +
        'so an untrusted one can stall or crash the server (as vLLM, off unless every client is trusted).',
    }),
    seed: Type.Union([Type.Null(), Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 })], {
      default: null,
      description:
        'Sampling seed for requests that send none (as llama-server\'s --seed): the same request then gives the same ' +
        'output. null = a random seed per request.',
    }),
    ttl: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'Seconds without requests (none running or queued) after which the model is unloaded, freeing its memory; ' +
        'the next request loads it again. 0 = never.',
    }),
  },
  { additionalProperties: false },
)

/** Sampling values a model uses when a request leaves them out (wire names in camelCase). */
export const SamplingDefaultsSchema = Type.Object(
  {
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 4, description: 'temperature; otherwise 1.' })),
    topP: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'top_p (0 = greedy); otherwise 1.' })),
    topK: Type.Optional(Type.Integer({ minimum: -1, description: 'top_k; otherwise off (0 or -1 = off).' })),
    minP: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'min_p; otherwise 0.' })),
    maxTokens: Type.Optional(Type.Integer({ minimum: 1, description: 'max_tokens; otherwise the model\'s maxTokens.' })),
  },
  { additionalProperties: false },
)

export const ModelEntrySchema = Type.Composite(
  [
    Type.Object({
      id: Type.Optional(
        Type.String({ minLength: 1, description: 'Name clients pass as "model". Defaults to the file name without .gguf.' }),
      ),
      source: Type.String({
        minLength: 1,
        description:
          'A local path (in a config file: relative to its folder), a name that `gguf-serve models` lists, an hf: URI ' +
          '(hf:org/repo/file.gguf or hf:org/repo:Q4_K_M) or an http(s) URL.',
      }),
      aliases: Type.Array(Type.String({ minLength: 1 }), {
        default: [],
        description:
          "Other names that route to this model. '*' matches any characters (`claude-*`); exact names win over patterns, then the first pattern listed.",
      }),
      preload: Type.Optional(
        Type.Boolean({
          description:
            'Load at start (/health answers 503 until it is loaded). Default: true for the first model, false ' +
            'for the others, which load on their first request.',
        }),
      ),
      chatTemplate: Type.Optional(
        Type.String({ minLength: 1, description: 'A Jinja chat template used instead of the one in the GGUF file.' }),
      ),
      defaults: Type.Optional(SamplingDefaultsSchema),
    }),
    Type.Partial(ModelSettingsSchema),
  ],
  { additionalProperties: false },
)

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', description: 'Address to listen on; 0.0.0.0 for all interfaces.' }),
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080, description: 'TCP port; 0 picks a free one.' }),
        apiKeys: Type.Array(Type.String({ minLength: 1 }), {
          default: [],
          description: 'Accepted API keys. Empty: no authentication (local use). /health stays open.',
        }),
        apiKeysFile: Type.Optional(
          Type.String({
            minLength: 1,
            description:
              'A file of API keys, one per line (blank lines and # comments ignored), accepted besides apiKeys. ' +
              'Read once at start; keys are never logged.',
          }),
        ),
        metricsToken: Type.Optional(
          Type.String({
            minLength: 1,
            description: 'When set, GET /metrics requires "Authorization: Bearer <token>" (API keys do not open it).',
          }),
        ),
        corsOrigins: Type.Array(Type.String({ minLength: 1 }), {
          default: ['*'],
          description:
            'Origins browsers may call the API from (CORS): "*" for any (the default, as llama-server and vLLM), ' +
            'exact origins like "https://app.example.com", or [] to send no CORS headers.',
        }),
        rateLimit: Type.Object(
          {
            max: Type.Integer({
              minimum: 0,
              default: 0,
              description:
                'Requests each API key (or client address, without keys) may make per window; a request counts its ' +
                'prompts × n. 0 = no limit.',
            }),
            windowMs: Type.Integer({ minimum: 1000, default: 60_000, description: 'The rate-limit window.' }),
            failedAuthMax: Type.Integer({
              minimum: 0,
              default: 20,
              description:
                'Wrong API keys one client address may present per window (with API keys configured); past it, every ' +
                'request from that address gets 429 until the window ends, so keys cannot be guessed at speed. 0 = no limit.',
            }),
          },
          { default: {}, additionalProperties: false },
        ),
        headersTimeoutMs: Type.Integer({
          minimum: 1000,
          default: 10_000,
          description: 'A client must send its request headers within this time (slow clients are cut off).',
        }),
        bodyTimeoutMs: Type.Integer({
          minimum: 1000,
          default: 30_000,
          description: 'A client must send its whole request (headers and body) within this time.',
        }),
        keepAliveTimeoutMs: Type.Integer({
          minimum: 0,
          default: 72_000,
          description:
            'Idle keep-alive connections are closed after this time (above the usual 60 s of load balancers).',
        }),
        streamPingMs: Type.Integer({
          minimum: 100,
          default: 1000,
          description:
            'A stream sends a keep-alive after this long without output (queued, or a long prompt being read): a `: ping` comment on OpenAI-style streams, a `ping` event on Anthropic Messages streams.',
        }),
        bodyLimitBytes: Type.Integer({
          minimum: 1024,
          default: 8 * 1024 * 1024,
          description: 'Largest request body; larger ones get 413.',
        }),
        shutdownGraceMs: Type.Integer({
          minimum: 0,
          default: 30_000,
          description: 'On SIGINT/SIGTERM, how long in-flight requests may run before they are cut.',
        }),
        requestTimeoutMs: Type.Integer({
          minimum: 0,
          default: 600_000,
          description:
            'Deadline per request, queue time included; 0 = none. Past it a request that sent text ends with ' +
            'finish_reason "length", one that sent nothing fails with 503 timeout (a stream that already sent its keep-alive pings gets it as its error event).',
        }),
        queueMax: Type.Integer({
          minimum: 0,
          default: 64,
          description: 'Generations waiting for a slot, per model (a request counts its prompts × n); more get 429 queue_full.',
        }),
        docs: Type.Boolean({
          default: false,
          description: 'Serve interactive API docs (Swagger UI) at /docs. GET /openapi.json is always served.',
        }),
        ui: Type.Boolean({
          default: true,
          description: 'Serve the web playground and dashboard at / (static files from the package; --no-ui turns it off).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    responses: Type.Object(
      {
        store: Type.Boolean({
          default: true,
          description:
            'Keep /v1/responses results (store: true, the default per request) for retrieval and previous_response_id; ' +
            'false (--no-store) keeps nothing.',
        }),
        storeUrl: Type.String({
          default: '',
          description: 'Where stored responses live: empty = in this process; redis://[:password@]host:port[/db] = Redis, shared by replicas.',
        }),
        maxEntries: Type.Integer({ minimum: 1, default: 10_000, description: 'Stored responses kept at most; the oldest go first.' }),
        maxBytes: Type.Integer({
          minimum: 1024,
          default: 256 * 1024 * 1024,
          description: 'Bytes of stored responses (JSON) at most; a single larger response is not stored.',
        }),
        ttlMs: Type.Integer({ minimum: 1000, default: 24 * 3600_000, description: 'A stored response is dropped this long after it was created.' }),
        redisKeyPrefix: Type.String({ default: 'gguf-serve:responses:', description: 'Prefix of every Redis key the store writes.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    engine: Type.Object(
      {
        gpu: Type.Union(
          [Auto, Type.Literal('cuda'), Type.Literal('vulkan'), Type.Literal('metal'), Type.Literal('none')],
          { default: 'auto', description: 'Compute backend: auto tries CUDA, Vulkan, Metal, then the CPU.' },
        ),
        maxLoadedModels: Type.Integer({
          minimum: 1,
          default: 2,
          description:
            'Models held in memory at once (two ids sharing one file count twice). Loading one more first unloads ' +
            'the least recently used idle model.',
        }),
        modelLoadTimeoutMs: Type.Integer({
          minimum: 1,
          default: 300_000,
          description:
            'How long a request for a model that is not loaded waits for it (room to load included) before 503.',
        }),
        memoryHeadroomBytes: Type.Integer({
          minimum: 0,
          default: 512 * 1024 * 1024,
          description:
            'RAM kept free for everything else: a model whose estimated weights and context would eat into it is ' +
            'refused rather than loaded into swap.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    download: Type.Object(
      {
        cacheDir: Type.String({ default: 'models', description: 'Where hf: and URL models are downloaded and reused.' }),
        hfEndpoint: Type.String({ default: 'https://huggingface.co', description: 'Hugging Face base URL (mirrors).' }),
        hfToken: Type.Optional(Type.String({ description: 'Token for gated Hugging Face repositories.' })),
        retryWindowMs: Type.Integer({
          minimum: 0,
          default: 30_000,
          description:
            'How long an unreachable download server (DNS, connection, TLS, 5xx) is retried with backoff before ' +
            'the start fails, and how long a download may receive nothing before it is given up (its partial ' +
            'file is kept and resumed next time).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
          { default: 'info', description: 'Log level.' },
        ),
        format: Type.Union([Type.Literal('auto'), Type.Literal('pretty'), Type.Literal('json')], {
          default: 'auto',
          description: 'pretty: coloured lines for people; json: one JSON object per line; auto: pretty on a terminal, JSON otherwise.',
        }),
        prompts: Type.Boolean({
          default: false,
          description: 'Also log prompts and outputs (off: they may hold private data).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    modelDefaults: Type.Object(ModelSettingsSchema.properties, {
      default: {},
      additionalProperties: false,
      description: 'Settings for every model that does not set its own.',
    }),
    models: Type.Array(ModelEntrySchema, {
      default: [DEFAULT_MODEL],
      description:
        'Models to serve. The first one is the default for requests that name no model. Without any (no ' +
        `config file models, no --model), ${DEFAULT_MODEL.source} is downloaded once and served as ${DEFAULT_MODEL.id}.`,
    }),
  },
  { additionalProperties: false },
)

export type Config = Static<typeof ConfigSchema>
export type ModelSettings = Static<typeof ModelSettingsSchema>
export type ModelEntry = Static<typeof ModelEntrySchema>
export type SamplingDefaults = Static<typeof SamplingDefaultsSchema>
/** A model entry with every setting resolved: what the engine loads. */
export type ModelConfig = ModelSettings & {
  id: string
  source: string
  aliases: string[]
  preload: boolean
  /** Overrides the GGUF's template; absent: the GGUF's own. */
  chatTemplate?: string
  defaults: SamplingDefaults
}
