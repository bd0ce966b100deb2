import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

/** The built CLI; SERVER_CLI points at another build (e.g. a snapshot that stays fixed while measuring). */
const serverCli = process.env.SERVER_CLI ?? `${repoRoot}dist/cli.js`

export interface ServerProcess {
  child: ChildProcess
  origin: string
  /** Milliseconds from spawning the process to the first `/health` 200. */
  startupMs: number
  stop(): void
}

/** Spawns the built server (`dist/cli.js start …`, or SERVER_CLI) on a free port and waits until /health answers 200. */
export async function startServerProcess(args: string[]): Promise<ServerProcess> {
  const started = performance.now()
  const child = spawn(process.execPath, [serverCli, 'start', '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const origin = await new Promise<string>((resolve, reject) => {
    let log = ''
    const onData = (d: Buffer) => {
      log += d.toString()
      const match = /"url":"(http:\/\/[^"]+)"/.exec(log)
      if (!match) return
      // Later lines (one per request) are drained unread: scanning them would load the measuring process.
      child.stderr!.off('data', onData).resume()
      resolve(match[1]!)
    }
    child.stderr!.on('data', onData)
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)))
  })
  while ((await fetch(`${origin}/health`).then((r) => r.status, () => 0)) !== 200) await new Promise((r) => setTimeout(r, 10))
  return { child, origin, startupMs: performance.now() - started, stop: () => child.kill('SIGTERM') }
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
