import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp'
import type { Logger } from 'pino'
import { StartupError } from '../errors.js'
import type { Config } from '../config/schema.js'
import { availableCpus } from './available-cpus.js'

export type GpuChoice = Config['engine']['gpu']

/**
 * Loads llama.cpp's native binding once per process. Only prebuilt binaries are used (`build: "never"`):
 * building from source needs a toolchain and network, and a server start must not silently compile.
 */
export async function createLlamaRuntime(gpu: GpuChoice, log: Logger): Promise<Llama> {
  const llamaLog = log.child({ component: 'llama.cpp' })
  try {
    const llama = await getLlama({
      gpu: gpu === 'none' ? false : gpu,
      build: 'never',
      // The library's default is max(cores, 4): on a 2-core machine that oversubscribes badly.
      maxThreads: availableCpus(),
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim()
        if (!text) return
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) llamaLog.error(text)
        else if (level === LlamaLogLevel.warn) llamaLog.warn(text)
        else llamaLog.debug(text)
      },
    })
    const gpuNames = llama.gpu === false ? [] : await llama.getGpuDeviceNames()
    log.info(
      { backend: llama.gpu === false ? 'cpu' : llama.gpu, devices: gpuNames, cpus: availableCpus(), build: llama.buildType },
      `compute backend: ${llama.gpu === false ? 'CPU' : `${llama.gpu} (${gpuNames.join(', ') || 'unknown device'})`}`,
    )
    return llama
  } catch (error) {
    throw new StartupError(
      `Cannot start the ${gpu === 'auto' ? '' : `${gpu} `}compute backend: ${(error as Error).message}` +
        (gpu !== 'auto' && gpu !== 'none' ? ' Try --gpu auto or --gpu none.' : ''),
      { cause: error },
    )
  }
}
