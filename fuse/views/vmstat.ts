import type { MemoryNumbers } from "../cgroup/types.js";

// /proc/vmstat for a container: every line of the host's file, in its order ("name value", as
// mm/vmstat.c prints them), each value either
//  - the container's: from its memory cgroup (amounts converted from bytes to the unit the
//    kernel prints: pages, huge pages, KiB) or its block I/O (pgpgin/pgpgout);
//  - the host's, for the two writeback thresholds, which the kernel applies to every writer
//    on the host, the container included, and which no container can move;
//  - 0 for everything else: machine-wide counts of the allocator, compaction, NUMA, kswapd, …
//    grow with the neighbours' work and would read as the container's own.
// The README's table lists the lines and says why for each group.

export interface VmstatInput {
  /** The memory cgroup's memory.stat, hierarchical, under cgroup2's names (VmstatNumbers). */
  memoryStat: ReadonlyMap<string, number>;
  /** Limit and usage, for the free pages meminfo's MemFree also shows. */
  memory: Pick<MemoryNumbers, "limitBytes" | "usageBytes">;
  hostMemTotalBytes: number;
  oomKills: number | null;
  /** Bytes the cgroup read from and wrote to block devices; null when its I/O is not accounted. */
  io: { readBytes: number; writeBytes: number } | null;
  pageBytes: number;
  /** A transparent huge page (PMD) in bytes: the unit of the *_hugepages and *_pmdmapped lines. */
  hugePageBytes: number;
}

type Value = (c: VmstatInput) => number;

const stat = (c: VmstatInput, key: string): number => c.memoryStat.get(key) ?? 0;
const pages =
  (...keys: string[]): Value =>
  (c) =>
    Math.floor(keys.reduce((sum, key) => sum + stat(c, key), 0) / c.pageBytes);
const hugePages =
  (key: string): Value =>
  (c) =>
    Math.floor(stat(c, key) / c.hugePageBytes);

/** Lines whose container value is not memory.stat's line of the same name. */
const CONTAINER: ReadonlyMap<string, Value> = new Map<string, Value>([
  [
    "nr_free_pages",
    (c) => {
      const total = c.memory.limitBytes === null ? c.hostMemTotalBytes : Math.min(c.memory.limitBytes, c.hostMemTotalBytes);
      return Math.floor(Math.max(0, total - c.memory.usageBytes) / c.pageBytes);
    },
  ],
  // The memory cgroup does not split its LRU lists by zone; all of it is in the zone lines' sum.
  ["nr_zone_inactive_anon", pages("inactive_anon")],
  ["nr_zone_active_anon", pages("active_anon")],
  ["nr_zone_inactive_file", pages("inactive_file")],
  ["nr_zone_active_file", pages("active_file")],
  ["nr_zone_unevictable", pages("unevictable")],
  ["nr_zone_write_pending", pages("file_dirty", "file_writeback")],
  ["nr_inactive_anon", pages("inactive_anon")],
  ["nr_active_anon", pages("active_anon")],
  ["nr_inactive_file", pages("inactive_file")],
  ["nr_active_file", pages("active_file")],
  ["nr_unevictable", pages("unevictable")],
  ["nr_slab_reclaimable", pages("slab_reclaimable")],
  ["nr_slab_unreclaimable", pages("slab_unreclaimable")],
  ["nr_anon_pages", pages("anon")],
  ["nr_mapped", pages("file_mapped")],
  ["nr_file_pages", pages("file")],
  ["nr_dirty", pages("file_dirty")],
  ["nr_writeback", pages("file_writeback")],
  ["nr_shmem", pages("shmem")],
  ["nr_shmem_hugepages", hugePages("shmem_thp")],
  ["nr_file_hugepages", hugePages("file_thp")],
  ["nr_anon_transparent_hugepages", hugePages("anon_thp")],
  ["nr_kernel_stack", (c) => Math.floor(stat(c, "kernel_stack") / 1024)],
  ["nr_page_table_pages", pages("pagetables")],
  ["nr_sec_page_table_pages", pages("sec_pagetables")],
  ["nr_swapcached", pages("swapcached")],
  ["nr_hugetlb", pages("hugetlb")],
  // Kilobytes read from and written to block devices, as the kernel counts them for the host.
  ["pgpgin", (c) => (c.io === null ? 0 : Math.floor(c.io.readBytes / 1024))],
  ["pgpgout", (c) => (c.io === null ? 0 : Math.floor(c.io.writeBytes / 1024))],
  ["oom_kill", (c) => c.oomKills ?? 0],
]);

/** Host-wide numbers that bind the container as much as anyone, and that it cannot move. */
const HOST_KEPT: ReadonlySet<string> = new Set(["nr_dirty_threshold", "nr_dirty_background_threshold"]);

/** What becomes of one line: the container's value, the host's, or 0. */
export type VmstatSource = "container" | "host" | "zero";

/**
 * Where a line's value comes from. Events the memory cgroup counts under /proc/vmstat's own name
 * (pgfault, pgmajfault, workingset_*, pgscan_*, pgsteal_*, pswpin, thp_fault_alloc, zswpin, …)
 * are the container's wherever its kernel has them.
 */
export function vmstatSource(key: string, memoryStat: ReadonlyMap<string, number>): VmstatSource {
  if (CONTAINER.has(key) || memoryStat.has(key)) return "container";
  return HOST_KEPT.has(key) ? "host" : "zero";
}

export function renderVmstat(hostVmstat: string, c: VmstatInput): string {
  const lines = hostVmstat.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const key = line.slice(0, space);
    const source = vmstatSource(key, c.memoryStat);
    if (source === "host") continue;
    const value = source === "zero" ? 0 : (CONTAINER.get(key)?.(c) ?? c.memoryStat.get(key)!);
    lines[i] = `${key} ${value}`;
  }
  return lines.join("\n");
}
