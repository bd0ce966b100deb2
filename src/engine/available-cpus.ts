import { readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/**
 * CPUs this process may really use: the affinity mask (availableParallelism) bounded by a cgroup CPU
 * quota. A container limited to 2 CPUs on a 64-core host must not start 64 threads: llama.cpp threads
 * spin-wait, and oversubscription made a tiny model ~1000x slower on a 2-core machine.
 */
export function availableCpus(): number {
  const quota = cgroupCpuQuota()
  const affinity = availableParallelism()
  return Math.max(1, quota === null ? affinity : Math.min(affinity, quota))
}

function cgroupCpuQuota(): number | null {
  // cgroup v2: "max 100000" or "200000 100000" (quota, period in µs).
  const v2 = readOrNull('/sys/fs/cgroup/cpu.max')
  if (v2) return quotaToCpus(v2.split(/\s+/)[0], v2.split(/\s+/)[1])
  // cgroup v1: quota -1 means unlimited.
  return quotaToCpus(readOrNull('/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), readOrNull('/sys/fs/cgroup/cpu/cpu.cfs_period_us'))
}

function quotaToCpus(quota: string | null | undefined, period: string | null | undefined): number | null {
  const q = Number(quota)
  const p = Number(period)
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return null
  return Math.ceil(q / p)
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return null
  }
}
