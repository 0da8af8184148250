// Memory limit, usage, swap and stat of a container cgroup, hierarchical (the tightest limit
// anywhere from the cgroup up to the root applies, as the kernel enforces it).
import type { MemoryNumbers, MemoryStat, SwapNumbers } from "./types.js";
import type { CgroupLayout } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { cgroupDir, FlatKey, parseCount, readCgroupFile, readCgroupValue, selfAndAncestors } from "./read.js";

/**
 * v2 "max", or v1's "unlimited" (PAGE_COUNTER_MAX pages rounded to bytes, 9223372036854771712 on
 * 4 KiB pages, other values on other page sizes): anything ≥ 2^62 is no limit.
 */
const UNLIMITED = 2 ** 62;

/** Limit file text → bytes, or null for "no limit". */
export function parseLimit(text: string, where = "limit"): number | null {
  const value = text.trim();
  if (value === "max") return null;
  const n = parseCount(value, where);
  return n >= UNLIMITED ? null : n;
}

function minLimit(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

/** Tightest limit in `file` from the cgroup up to the root; absent files (v2 root) mean no limit there. */
export function hierarchicalLimit(mountDir: string, path: string, file: string): number | null {
  let limit: number | null = null;
  for (const p of selfAndAncestors(path)) {
    const where = `${cgroupDir(mountDir, p)}/${file}`;
    const text = readCgroupValue(where);
    if (text !== null) limit = minLimit(limit, parseLimit(text, where));
  }
  return limit;
}

const V1_STAT_KEYS: Record<keyof MemoryStat, string> = {
  anonBytes: "rss",
  fileBytes: "cache",
  activeAnonBytes: "active_anon",
  inactiveAnonBytes: "inactive_anon",
  activeFileBytes: "active_file",
  inactiveFileBytes: "inactive_file",
  unevictableBytes: "unevictable",
  shmemBytes: "shmem",
  mappedBytes: "mapped_file",
  swapCachedBytes: "swapcached",
  // v1 memory.stat has no slab lines on most kernels; 0 unless a kernel adds them.
  slabReclaimableBytes: "slab_reclaimable",
  slabUnreclaimableBytes: "slab_unreclaimable",
  dirtyBytes: "dirty",
  writebackBytes: "writeback",
};

const V2_STAT_KEYS: Record<keyof MemoryStat, string> = {
  anonBytes: "anon",
  fileBytes: "file",
  activeAnonBytes: "active_anon",
  inactiveAnonBytes: "inactive_anon",
  activeFileBytes: "active_file",
  inactiveFileBytes: "inactive_file",
  unevictableBytes: "unevictable",
  shmemBytes: "shmem",
  mappedBytes: "file_mapped",
  swapCachedBytes: "swapcached",
  slabReclaimableBytes: "slab_reclaimable",
  slabUnreclaimableBytes: "slab_unreclaimable",
  dirtyBytes: "file_dirty",
  writebackBytes: "file_writeback",
};

const FIELDS = Object.keys(V1_STAT_KEYS) as (keyof MemoryStat)[];
/** Per field, the hierarchical total_* key first (sub-cgroups count), then the local one. */
const V1_LOOKUPS = FIELDS.map((field) => [field, new FlatKey(`total_${V1_STAT_KEYS[field]}`), new FlatKey(V1_STAT_KEYS[field])] as const);
const V2_LOOKUPS = FIELDS.map((field) => [field, new FlatKey(V2_STAT_KEYS[field])] as const);
const V1_MEMORY_LIMIT = new FlatKey("hierarchical_memory_limit");
const V1_MEMSW_LIMIT = new FlatKey("hierarchical_memsw_limit");

/** v1 memory.stat → MemoryStat, from the hierarchical total_* keys (sub-cgroups count), else the local ones. */
export function memoryStatFromV1(text: string): MemoryStat {
  const out = {} as MemoryStat;
  for (const [field, total, local] of V1_LOOKUPS) out[field] = total.valueIn(text) ?? local.valueIn(text) ?? 0;
  return out;
}

/** v2 memory.stat (already hierarchical) → MemoryStat. */
export function memoryStatFromV2(text: string): MemoryStat {
  const out = {} as MemoryStat;
  for (const [field, key] of V2_LOOKUPS) out[field] = key.valueIn(text) ?? 0;
  return out;
}

function readNumber(path: string): number | null {
  const text = readCgroupValue(path);
  return text === null ? null : parseCount(text, path);
}

/**
 * null when the memory controller is not available or the cgroup directory is gone.
 * On the v2 root (host) there is no memory.current/memory.stat: usage 0 and an all-zero stat,
 * which does not matter because the server passes host files through for the root.
 */
export function readMemoryNumbers(layout: CgroupLayout, paths: CgroupPaths): MemoryNumbers | null {
  const mount = layout.mounts.memory;
  if (mount === undefined) return null;
  const path = paths.memory;
  const dir = cgroupDir(mount.dir, path);
  const v1 = mount.version === 1;

  const statText = readCgroupFile(`${dir}/memory.stat`);
  if (statText === null && path !== "/") return null;
  const stat = v1 ? memoryStatFromV1(statText ?? "") : memoryStatFromV2(statText ?? "");

  const usageBytes = readNumber(`${dir}/${v1 ? "memory.usage_in_bytes" : "memory.current"}`) ?? 0;
  // v1's memory.stat already carries the tightest limits along the path (the kernel walks the
  // ancestors for us): one read instead of one per ancestor, on the hot path.
  const fromStat = (key: FlatKey): number | null | undefined => {
    const value = v1 && statText !== null ? key.valueIn(statText) : undefined;
    return value === undefined ? undefined : value >= UNLIMITED ? null : value;
  };
  const statLimit = fromStat(V1_MEMORY_LIMIT);
  const limitBytes = statLimit !== undefined ? statLimit : hierarchicalLimit(mount.dir, path, v1 ? "memory.limit_in_bytes" : "memory.max");

  let swap: SwapNumbers | null = null;
  if (v1) {
    const memswUsage = readNumber(`${dir}/memory.memsw.usage_in_bytes`);
    if (memswUsage !== null) {
      const statMemsw = fromStat(V1_MEMSW_LIMIT);
      const memswLimit = statMemsw !== undefined ? statMemsw : hierarchicalLimit(mount.dir, path, "memory.memsw.limit_in_bytes");
      swap = {
        limitBytes: memswLimit === null ? null : Math.max(0, memswLimit - (limitBytes ?? 0)),
        usageBytes: Math.max(0, memswUsage - usageBytes),
      };
    }
  } else {
    const swapUsage = readNumber(`${dir}/memory.swap.current`);
    if (swapUsage !== null) swap = { limitBytes: hierarchicalLimit(mount.dir, path, "memory.swap.max"), usageBytes: swapUsage };
  }
  return { limitBytes, usageBytes, swap, stat };
}
