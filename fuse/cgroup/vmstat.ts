// The memory cgroup's counters behind a container's /proc/vmstat: all of memory.stat (not only
// the keys meminfo needs) under cgroup2's names, and the OOM kill count.
import { chargedPath, type CgroupLayout } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { cgroupDir, FlatKey, parseFlatKeyed, readCgroupFile } from "./read.js";

export interface VmstatNumbers {
  /**
   * memory.stat, hierarchical (sub-cgroups count: v1's total_* values), by cgroup2's key names:
   * amounts in bytes, events as counts. v1's pgpgin/pgpgout are left out: they count pages
   * charged to and uncharged from the cgroup, not pages read from or written to disk.
   */
  memoryStat: Map<string, number>;
  /** Processes the OOM killer killed in the cgroup (v2 memory.events, v1 memory.oom_control); null when the kernel does not say. */
  oomKills: number | null;
}

/** v1 memory.stat names whose cgroup2 counterpart is named differently. */
const V1_NAMES = new Map([
  ["cache", "file"],
  ["rss", "anon"],
  ["rss_huge", "anon_thp"],
  ["mapped_file", "file_mapped"],
  ["dirty", "file_dirty"],
  ["writeback", "file_writeback"],
]);

/** Same name as in /proc/vmstat, another meaning (v1 only). */
const NOT_PAGING = ["pgpgin", "pgpgout"];

const OOM_KILL = new FlatKey("oom_kill");

/** v1 memory.stat → cgroup2 names, the total_* (hierarchical) value wherever there is one. */
export function normalizeV1MemoryStat(text: string): Map<string, number> {
  const out = new Map<string, number>();
  // The kernel prints the local values first, then the total_* ones: a total overwrites its local.
  for (const [key, value] of parseFlatKeyed(text)) {
    if (key.startsWith("hierarchical_")) continue;
    const local = key.startsWith("total_") ? key.slice("total_".length) : key;
    out.set(V1_NAMES.get(local) ?? local, value);
  }
  for (const key of NOT_PAGING) out.delete(key);
  return out;
}

export function normalizeV2MemoryStat(text: string): Map<string, number> {
  const out = parseFlatKeyed(text);
  for (const key of NOT_PAGING) out.delete(key);
  return out;
}

/** null when the memory controller is not available or the cgroup is gone. On v2, a cgroup
 * without the memory controller is charged to its nearest ancestor that has it: those counters,
 * as meminfo's (none when that is the root: the host's file is the same numbers). */
export function readVmstatNumbers(layout: CgroupLayout, paths: CgroupPaths): VmstatNumbers | null {
  const mount = layout.mounts.memory;
  if (mount === undefined) return null;
  let dir = cgroupDir(mount.dir, paths.memory);
  const v1 = mount.version === 1;
  let stat = readCgroupFile(`${dir}/memory.stat`);
  if (stat === null && !v1) {
    const charged = chargedPath(layout, "memory", paths.memory);
    if (charged === null || charged === "/" || charged === paths.memory) return null;
    dir = cgroupDir(mount.dir, charged);
    stat = readCgroupFile(`${dir}/memory.stat`);
  }
  if (stat === null) return null;
  const events = readCgroupFile(`${dir}/${v1 ? "memory.oom_control" : "memory.events"}`);
  return {
    memoryStat: v1 ? normalizeV1MemoryStat(stat) : normalizeV2MemoryStat(stat),
    oomKills: events === null ? null : (OOM_KILL.valueIn(events) ?? null),
  };
}
