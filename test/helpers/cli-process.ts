import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))
// By URL, so that a child started in another working directory still finds the TypeScript loader.
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href

export interface CliRun {
  child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  output(): string
  /** Resolves with the exit code. */
  exited: Promise<number | null>
  /** Resolves with the listening URL from the log. */
  url: Promise<string>
}

/** Runs `gguf-serve <args>` from the sources, as a user would run the installed bin. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): CliRun {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    env: { ...process.env, GGUF_SERVE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  let resolveUrl: (url: string) => void
  const url = new Promise<string>((resolve) => (resolveUrl = resolve))
  const onData = (data: Buffer) => {
    output += data.toString()
    const match = /"url":"(http:\/\/[^"]+)"/.exec(output)
    if (match) resolveUrl(match[1]!)
  }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = once(child, 'exit').then(([code]) => code as number | null)
  return { child, output: () => output, exited, url }
}

/** `runCli` for one test file: whatever a test leaves running is killed after it, pass or fail. */
export function cliRunner(): typeof runCli {
  const runs: CliRun[] = []
  afterEach(() => {
    for (const run of runs.splice(0)) if (run.child.exitCode === null) run.child.kill('SIGKILL')
  })
  return (args, env, cwd) => {
    const run = runCli(args, env, cwd)
    runs.push(run)
    return run
  }
}

/** Polls /health until it answers 200, returning the statuses seen on the way. */
export async function waitHealthy(origin: string, timeoutMs = 30_000): Promise<number[]> {
  const seen: number[] = []
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const status = await fetch(`${origin}/health`).then((r) => r.status, () => 0)
    if (seen.at(-1) !== status) seen.push(status)
    if (status === 200) return seen
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`not healthy after ${timeoutMs} ms; statuses ${seen.join(', ')}`)
}
