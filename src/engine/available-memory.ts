import { readFileSync } from 'node:fs'
import { freemem } from 'node:os'

/**
 * RAM this process could still take without swapping: the host's available memory (Node reads Linux's
 * MemAvailable, page cache included) bounded by a cgroup memory limit. A container limited to 8 GiB on a
 * 256 GiB host is killed at 8 GiB, whatever the host has free.
 */
export function availableMemoryBytes(): number {
  const cgroup = cgroupAvailable()
  return cgroup === null ? freemem() : Math.min(freemem(), cgroup)
}

/** cgroup v2, then v1: limit file, usage file, memory.stat key of the inactive file cache. */
const CGROUP_FILES = [
  ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory.current', '/sys/fs/cgroup/memory.stat', 'inactive_file'],
  [
    '/sys/fs/cgroup/memory/memory.limit_in_bytes',
    '/sys/fs/cgroup/memory/memory.usage_in_bytes',
    '/sys/fs/cgroup/memory/memory.stat',
    'total_inactive_file',
  ],
] as const

/**
 * Limit minus usage, giving back the inactive file cache that the kernel reclaims before it kills; null
 * without a limit (v2 writes "max", v1 a huge number) or without cgroup files.
 */
function cgroupAvailable(): number | null {
  for (const [limitFile, usageFile, statFile, inactiveKey] of CGROUP_FILES) {
    let limit: number, usage: number, stat: string
    try {
      limit = Number(readFileSync(limitFile, 'utf8').trim())
      usage = Number(readFileSync(usageFile, 'utf8').trim())
      stat = readFileSync(statFile, 'utf8')
    } catch {
      continue
    }
    if (!Number.isFinite(limit) || limit >= Number.MAX_SAFE_INTEGER || !Number.isFinite(usage)) return null
    const inactive = Number(new RegExp(`^${inactiveKey} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0)
    return Math.max(0, limit - usage + inactive)
  }
  return null
}
