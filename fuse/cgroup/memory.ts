// Memory limit, usage, swap and stat of a container cgroup, hierarchical (the tightest limit
// anywhere from the cgroup up to the root applies, as the kernel enforces it).
import type { MemoryNumbers, MemoryStat, SwapNumbers } from "./types.js";
import { chargedPath, type CgroupLayout } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { cgroupDir, FlatKey, parseCount, readCgroupFile, readCgroupValue, selfAndAncestors } from "./read.js";

/**
 * v2 "max", or v1's "unlimited" (PAGE_COUNTER_MAX pages rounded to bytes, 9223372036854771712 on
 * 4 KiB pages, other values on other page sizes): anything ≥ 2^62 is no limit.
 */
const UNLIMITED = 2 ** 62;

/** Limit file text → bytes, or null for "no limit" (also an empty file: nothing is limited there). */
export function parseLimit(text: string, where = "limit"): number | null {
  const value = text.trim();
  if (value === "max" || value === "") return null;
  const n = parseCount(value, where);
  return n >= UNLIMITED ? null : n;
}

function minLimit(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

/** Tightest limit in any of `files` from the cgroup up to the root; absent files (v2 root, a
 * cgroup without the controller) mean no limit there. */
export function hierarchicalLimit(mountDir: string, path: string, ...files: string[]): number | null {
  let limit: number | null = null;
  for (const p of selfAndAncestors(path)) {
    for (const file of files) {
      const where = `${cgroupDir(mountDir, p)}/${file}`;
      const text = readCgroupValue(where);
      if (text !== null) limit = minLimit(limit, parseLimit(text, where));
    }
  }
  return limit;
}

/** The fields every kernel reports (0 when a key is missing). */
type CoreField = Exclude<keyof MemoryStat, OptionalField>;
/** The fields only some kernels report per cgroup (null when missing: the host's line stays). */
type OptionalField =
  | "kernelStackBytes"
  | "pageTablesBytes"
  | "secPageTablesBytes"
  | "percpuBytes"
  | "anonHugePagesBytes"
  | "shmemHugePagesBytes"
  | "fileHugePagesBytes"
  | "zswapBytes"
  | "zswappedBytes";

const V1_STAT_KEYS: Record<CoreField, string> = {
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

const V2_STAT_KEYS: Record<CoreField, string> = {
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

/** Counterparts of meminfo lines the kernel keeps per cgroup only on some versions: v2 has them
 * all (kernel 6.x; older kernels lack a few keys), v1 only the anonymous huge pages. */
const V2_OPTIONAL_KEYS: Record<OptionalField, string> = {
  kernelStackBytes: "kernel_stack",
  pageTablesBytes: "pagetables",
  secPageTablesBytes: "sec_pagetables",
  percpuBytes: "percpu",
  anonHugePagesBytes: "anon_thp",
  shmemHugePagesBytes: "shmem_thp",
  fileHugePagesBytes: "file_thp",
  zswapBytes: "zswap",
  zswappedBytes: "zswapped",
};
const V1_OPTIONAL_KEYS: Partial<Record<OptionalField, string>> = { anonHugePagesBytes: "rss_huge" };

const FIELDS = Object.keys(V1_STAT_KEYS) as CoreField[];
const OPTIONAL_FIELDS = Object.keys(V2_OPTIONAL_KEYS) as OptionalField[];
/** Per field, the hierarchical total_* key first (sub-cgroups count), then the local one. */
const v1Lookup = (key: string) => [new FlatKey(`total_${key}`), new FlatKey(key)] as const;
const V1_LOOKUPS = FIELDS.map((field) => [field, ...v1Lookup(V1_STAT_KEYS[field])] as const);
const V1_OPTIONAL_LOOKUPS = OPTIONAL_FIELDS.map((field) => {
  const key = V1_OPTIONAL_KEYS[field];
  return [field, key === undefined ? null : v1Lookup(key)] as const;
});
const V2_LOOKUPS = FIELDS.map((field) => [field, new FlatKey(V2_STAT_KEYS[field])] as const);
const V2_OPTIONAL_LOOKUPS = OPTIONAL_FIELDS.map((field) => [field, new FlatKey(V2_OPTIONAL_KEYS[field])] as const);
const V1_MEMORY_LIMIT = new FlatKey("hierarchical_memory_limit");
const V1_MEMSW_LIMIT = new FlatKey("hierarchical_memsw_limit");

/** v1 memory.stat → MemoryStat, from the hierarchical total_* keys (sub-cgroups count), else the local ones. */
export function memoryStatFromV1(text: string): MemoryStat {
  const out = {} as MemoryStat;
  for (const [field, total, local] of V1_LOOKUPS) out[field] = total.valueIn(text) ?? local.valueIn(text) ?? 0;
  for (const [field, keys] of V1_OPTIONAL_LOOKUPS)
    out[field] = keys === null ? null : (keys[0].valueIn(text) ?? keys[1].valueIn(text) ?? null);
  return out;
}

/** v2 memory.stat (already hierarchical) → MemoryStat. */
export function memoryStatFromV2(text: string): MemoryStat {
  const out = {} as MemoryStat;
  for (const [field, key] of V2_LOOKUPS) out[field] = key.valueIn(text) ?? 0;
  for (const [field, key] of V2_OPTIONAL_LOOKUPS) out[field] = key.valueIn(text) ?? null;
  return out;
}

function readNumber(path: string): number | null {
  const text = readCgroupValue(path);
  return text === null ? null : parseCount(text, path);
}

/**
 * null when the memory controller is not available, the cgroup directory is gone, or the memory
 * is the host's: the v2 root has no memory.current (its numbers are /proc/meminfo's), and a v2
 * cgroup without the memory controller is charged to its nearest ancestor that has it (the root
 * when none has). Limits are the tightest memory.max or memory.high (v2: above it the kernel
 * throttles the cgroup into reclaim, so it is as much as the container can hold) up to the root.
 */
export function readMemoryNumbers(layout: CgroupLayout, paths: CgroupPaths): MemoryNumbers | null {
  const mount = layout.mounts.memory;
  if (mount === undefined) return null;
  const v1 = mount.version === 1;
  let path = paths.memory;
  if (!v1 && path === "/") return null;
  let dir = cgroupDir(mount.dir, path);

  let statText = readCgroupFile(`${dir}/memory.stat`);
  if (statText === null && !v1) {
    const charged = chargedPath(layout, "memory", path);
    if (charged === null || charged === "/" || charged === path) return null;
    path = charged;
    dir = cgroupDir(mount.dir, path);
    statText = readCgroupFile(`${dir}/memory.stat`);
  }
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
  const limitBytes =
    statLimit !== undefined
      ? statLimit
      : v1
        ? hierarchicalLimit(mount.dir, path, "memory.limit_in_bytes")
        : hierarchicalLimit(mount.dir, path, "memory.max", "memory.high");

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
