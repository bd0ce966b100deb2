import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

export interface ServerProcess {
  child: ChildProcess
  origin: string
  /** Milliseconds from spawning the process to the first `/health` 200. */
  startupMs: number
  stop(): void
}

/** Spawns the built server (`dist/cli.js start …`) on a free port and waits until /health answers 200. */
export async function startServerProcess(args: string[]): Promise<ServerProcess> {
  const started = performance.now()
  const child = spawn(process.execPath, [`${repoRoot}dist/cli.js`, 'start', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const origin = await new Promise<string>((resolve, reject) => {
    let log = ''
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString()
      const match = /"url":"(http:\/\/[^"]+)"/.exec(log)
      if (match) resolve(match[1]!)
    })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)))
  })
  while ((await fetch(`${origin}/health`).then((r) => r.status, () => 0)) !== 200) await new Promise((r) => setTimeout(r, 10))
  return { child, origin, startupMs: performance.now() - started, stop: () => child.kill('SIGTERM') }
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
