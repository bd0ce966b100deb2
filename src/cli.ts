#!/usr/bin/env node
import { Command, Option } from 'commander'
import { BENCH_PRESETS } from './bench/presets.js'
import { loadConfig } from './config/load-config.js'
import { StartupError } from './errors.js'
import { createLogger } from './observability/logger.js'
import type { Logger } from 'pino'
import type { RunningServer } from './server.js'
import { version } from './version.js'

const collect = (value: string, previous: string[] = []) => [...previous, value]

const program = new Command()
  .name('gguf-serve')
  .description('Serve GGUF language models behind the OpenAI HTTP API.')
  .version(version)
  .showHelpAfterError()

program
  .command('start')
  .description('Start the server. Flags override GGUF_SERVE_* environment variables, which override the config file.')
  .option('-m, --model <[id=]source>', 'model to serve: a local .gguf path, a name from `gguf-serve models`, hf:org/repo[/file.gguf|:QUANT] or an http(s) URL; repeatable (default: Qwen2.5-0.5B-Instruct Q8_0, downloaded once)', collect)
  .option('-c, --config <file>', 'YAML config file (see config.example.yaml) [env: GGUF_SERVE_CONFIG]')
  .option('--host <address>', 'address to listen on [env: GGUF_SERVE_HOST] (default: 127.0.0.1)')
  .option('-p, --port <port>', 'port to listen on; 0 picks a free one [env: GGUF_SERVE_PORT] (default: 8080)')
  .option('--context-size <tokens>', 'context window per slot [env: GGUF_SERVE_CONTEXT_SIZE] (default: 4096, capped at the model\'s)')
  .addOption(
    new Option('--gpu <backend>', 'compute backend [env: GGUF_SERVE_GPU] (default: auto)').choices(['auto', 'cuda', 'vulkan', 'metal', 'none']),
  )
  .option('--gpu-layers <auto|N>', 'layers to offload to the GPU [env: GGUF_SERVE_GPU_LAYERS] (default: auto)')
  .option('--threads <auto|N>', 'CPU threads [env: GGUF_SERVE_THREADS] (default: auto = usable CPUs, 1 for models under 32 MB)')
  .option('--parallel <N>', 'parallel slots: requests generated at once [env: GGUF_SERVE_PARALLEL] (default: 4)')
  .option('--max-tokens <N>', 'completion tokens when a request names none, and the ceiling [env: GGUF_SERVE_MAX_TOKENS] (default: 8192)')
  .option('--seed <N>', 'sampling seed for requests that send none (0 to 2^32-1) [env: GGUF_SERVE_SEED] (default: random per request)')
  .option('--max-loaded-models <N>', 'models held in memory at once; the least recently used idle one is unloaded for another [env: GGUF_SERVE_MAX_LOADED_MODELS] (default: 2)')
  .option('--queue-max <N>', 'requests waiting for a slot per model before 429 [env: GGUF_SERVE_QUEUE_MAX] (default: 64)')
  .option('--request-timeout-ms <ms>', 'deadline per request, queue time included; 0 = none [env: GGUF_SERVE_REQUEST_TIMEOUT_MS] (default: 600000)')
  .option('--api-key <key>', 'require this API key (repeatable) [env: GGUF_SERVE_API_KEY, comma-separated]', collect)
  .option('--api-key-file <file>', 'require one of the API keys in this file, one per line [env: GGUF_SERVE_API_KEY_FILE]')
  .option('--metrics-token <token>', 'require this Bearer token for /metrics [env: GGUF_SERVE_METRICS_TOKEN]')
  .option('--cors-origin <origin>', 'origin allowed to call the API from a browser, "*" for any (repeatable) [env: GGUF_SERVE_CORS_ORIGINS, comma-separated] (default: *)', collect)
  .option('--rate-limit <N>', 'requests each API key (or client address) may make per window (server.rateLimit.windowMs, 1 minute by default); 0 = no limit [env: GGUF_SERVE_RATE_LIMIT] (default: 0)')
  .option('--cache-dir <dir>', 'where downloaded models are kept [env: GGUF_SERVE_CACHE_DIR] (default: models)')
  .option('--hf-token <token>', 'Hugging Face token for gated repositories [env: GGUF_SERVE_HF_TOKEN]')
  .option('--hf-endpoint <url>', 'Hugging Face base URL, for mirrors [env: GGUF_SERVE_HF_ENDPOINT] (default: https://huggingface.co)')
  .option('--download-retry-window-ms <ms>', 'how long an unreachable download server is retried before the start fails [env: GGUF_SERVE_DOWNLOAD_RETRY_WINDOW_MS] (default: 30000)')
  .option('--log-prompts', 'also log prompts and outputs (off: they may hold private data) [env: GGUF_SERVE_LOG_PROMPTS]')
  .option('--docs', 'serve an interactive API reference at /docs [env: GGUF_SERVE_DOCS]')
  .option('--deterministic-prefill', 'same seed, same output even from a warm prefix cache: prompts in aligned chunks, reused only in whole chunks (slower prefill) [env: GGUF_SERVE_DETERMINISTIC_PREFILL]')
  .option('--trust-request-chat-template', 'let requests send their own chat_template (only if every client is trusted) [env: GGUF_SERVE_TRUST_REQUEST_CHAT_TEMPLATE]')
  .option('--store', 'keep /v1/responses results for retrieval and previous_response_id [env: GGUF_SERVE_STORE] (default: on)')
  .option('--no-store', 'do not keep /v1/responses results')
  .option('--responses-store <url>', 'keep stored responses in Redis (redis://host:port), shared by replicas [env: GGUF_SERVE_RESPONSES_STORE] (default: in this process)')
  .option('--ui', 'serve the web playground and dashboard at / [env: GGUF_SERVE_UI] (default: on)')
  .option('--no-ui', 'do not serve the web playground and dashboard')
  .addOption(
    new Option('--log-level <level>', 'log level [env: GGUF_SERVE_LOG_LEVEL] (default: info)').choices([
      'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent',
    ]),
  )
  .addOption(
    new Option('--log-format <format>', 'pretty lines or JSON [env: GGUF_SERVE_LOG_FORMAT] (default: auto = pretty on a terminal)').choices([
      'auto', 'pretty', 'json',
    ]),
  )
  .action(async (flags: Record<string, unknown>) => {
    const loaded = loadConfig({ flags, env: process.env })
    const log = createLogger(loaded.config.log.level, loaded.config.log.format)
    // Listening from the start: a signal during start-up (listen, the model load) is a normal stop, exit 0.
    let server: RunningServer | null = null
    let stopping = false
    const stop = (signal: string) => {
      if (stopping) {
        // An operator who asks twice does not want to wait out the grace period.
        log.warn({ signal }, 'second signal: exiting now, in-flight requests are cut off')
        process.exit(1)
      }
      stopping = true
      log.info({ signal }, 'shutting down: finishing in-flight requests')
      if (server) shutDown(server, log)
    }
    process.on('SIGINT', () => stop('SIGINT'))
    process.on('SIGTERM', () => stop('SIGTERM'))
    // Imported here so --help and config errors answer without loading the native engine.
    const { startServer } = await import('./server.js')
    server = await startServer(loaded, log)
    if (stopping) shutDown(server, log)
    // A load cut short by the stop (a download aborted, its partial file kept) is not a start-up failure.
    server.ready.catch((error: unknown) => (stopping ? log.info((error as Error).message) : fail(error)))
  })

// The download commands take the download settings from the same places as `start`.
program
  .command('pull')
  .description('Download a model into the cache (or find it there) and print its local path. Ctrl-C keeps the partial file; the next pull or start resumes it.')
  .argument('[source]', 'what --model takes: hf:org/repo[/file.gguf|:QUANT], an http(s) URL, a cached name or a path (only checked); default: the default model')
  .option('-c, --config <file>', 'YAML config file, for its download settings [env: GGUF_SERVE_CONFIG]')
  .option('--cache-dir <dir>', 'where downloaded models are kept [env: GGUF_SERVE_CACHE_DIR] (default: models)')
  .option('--hf-token <token>', 'Hugging Face token for gated repositories [env: GGUF_SERVE_HF_TOKEN]')
  .option('--hf-endpoint <url>', 'Hugging Face base URL, for mirrors [env: GGUF_SERVE_HF_ENDPOINT]')
  .option('--download-retry-window-ms <ms>', 'how long an unreachable server is retried [env: GGUF_SERVE_DOWNLOAD_RETRY_WINDOW_MS] (default: 30000)')
  .addOption(new Option('--log-format <format>', 'pretty lines or JSON [env: GGUF_SERVE_LOG_FORMAT]').choices(['auto', 'pretty', 'json']))
  .action(async (source: string | undefined, flags: Record<string, unknown>) => {
    // Imported here, like the server: --help must not load the native engine.
    const { pull } = await import('./cli/pull.js')
    await pull(source, flags)
  })

program
  .command('rm')
  .description('Delete a cached model (and its unfinished download, if any).')
  .argument('<name>', 'a name from `gguf-serve models`, or the hf: URI or URL it was downloaded from')
  .option('-c, --config <file>', 'YAML config file, for its download settings [env: GGUF_SERVE_CONFIG]')
  .option('--cache-dir <dir>', 'where downloaded models are kept [env: GGUF_SERVE_CACHE_DIR] (default: models)')
  .action(async (name: string, flags: Record<string, unknown>) => {
    const { removeModel } = await import('./cli/remove-model.js')
    await removeModel(name, flags)
  })

program
  .command('models')
  .description('List the GGUF files in the download cache: name (what --model, pull and rm take), size, architecture and type.')
  .option('-c, --config <file>', 'YAML config file, for its download settings [env: GGUF_SERVE_CONFIG]')
  .option('--cache-dir <dir>', 'where downloaded models are kept [env: GGUF_SERVE_CACHE_DIR] (default: models)')
  .action(async (flags: Record<string, unknown>) => {
    const { listModels } = await import('./cli/list-models.js')
    await listModels(flags)
  })

program
  .command('bench')
  .description(
    'Load-test OpenAI-compatible servers with streamed chat completions (TTFT, TPOT, ITL, latency, throughput per level), ' +
      'side by side with a second server and with the raw engine in-process.',
  )
  .option('--base-url <url>', 'the server under test, its OpenAI base URL, e.g. http://127.0.0.1:8080/v1')
  .option('--compare-url <url>', 'a second server (e.g. llama-server) run with the identical workload, interleaved')
  .option('--engine-model <file.gguf>', 'also run the workload on node-llama-cpp in-process with this model (the engine ceiling)')
  .option('--threads <N>', 'engine run: CPU threads (default: the usable CPUs; match the server\'s)')
  .option('--parallel <N>', 'engine run: sequences, like the server\'s slots', '8')
  .option('--context-size <tokens>', 'engine run: context per sequence', '4096')
  .option('--batch-size <tokens>', 'engine run: llama.cpp batch size', '512')
  .option('--api-key <key>', 'sent as a Bearer token [env: OPENAI_API_KEY]')
  .option('--model <id>', 'model to request (default: the first one GET /models lists)')
  .option(
    '--preset <name>',
    `a named workload standing for the flags it sets (a flag given wins): ${Object.entries(BENCH_PRESETS)
      .map(([name, preset]) => `${name} (${preset.description}, concurrency ${preset.concurrency})`)
      .join(' or ')}`,
  )
  .option('--concurrency <list>', 'comma-separated concurrency levels (default: 1,2,4 unless --request-rate is given)')
  .option('--request-rate <list>', 'comma-separated request rates (req/s, Poisson arrivals), run after the concurrency levels')
  .option('--requests <N>', 'requests per level (and round)', '16')
  .option('--rounds <N>', 'repeat every level this many times, alternating the targets\' order', '1')
  .option('--prompt-tokens <N>', 'prompt length: N random words from a fixed list (about N tokens) (default: 128)')
  .option('--prompt-tokens-range <r>', 'prompt lengths uniform in N·(1 ± r)', '0')
  .option('--output-tokens <N>', 'max_tokens of every request (with ignore_eos, the exact output length) (default: 128)')
  .option('--temperature <t>', 'sampling temperature of every request, sent without top_k, top_p or min_p (default: 0, greedy)')
  .option('--output-tokens-range <r>', 'output lengths uniform in N·(1 ± r)', '0')
  .option('--seed <S>', 'seed of the prompts, lengths and arrivals (request i samples with seed S + i)', '0')
  .option('--warmup <N>', 'unmeasured requests sent one at a time to each target first', '1')
  .option('--out <file>', 'write the JSON report to this file (- for stdout)')
  .option('--markdown', 'also print the Markdown tables when --out is given (to stderr with --out -)')
  .option('--chart <file.svg>', 'write an SVG chart of throughput and TTFT p50 per level')
  .option('--readme <file>', 'write the results table between the bench-results markers of this file (README.md)')
  .option('--http-report <file.json>', 'with --readme: add the HTTP overhead figures of bench/http-overhead.ts')
  .option('--from-report <file.json>', 'measure nothing: write --markdown, --chart and --readme from a saved JSON report')
  .option('--make-model <preset[=path]>', 'only write a generated benchmark model (qwen05b-shape, qwen05b-152k, llama1b-shape, 100m, tiny) and print its path')
  .action(async (flags: Record<string, unknown>) => {
    const { bench } = await import('./bench/command.js')
    await bench(flags as never)
  })

function shutDown(server: RunningServer, log: Logger): void {
  server.close().then(
    () => {
      log.info('stopped')
      process.exit(0)
    },
    (error: unknown) => {
      log.error({ err: error }, 'shutdown failed')
      process.exit(1)
    },
  )
}

/** Startup problems are the user's to fix: one clear line, no stack trace, exit code 1. */
function fail(error: unknown): never {
  if (error instanceof StartupError) process.stderr.write(`gguf-serve: ${error.message}\n`)
  else process.stderr.write(`gguf-serve: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`)
  process.exit(1)
}

program.parseAsync().catch(fail)
