// A container's own slab caches: cgroup v1's memory.kmem.slabinfo, in /proc/slabinfo's format.
import type { CgroupLayout } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { cgroupDir, readOptional } from "./read.js";

const HEADER = "slabinfo - version:";

/**
 * The memory cgroup's memory.kmem.slabinfo, or null where the kernel has none to give: on cgroup2
 * (no such file), where the file is missing or empty (kernels 5.9 and later keep it, empty, since
 * slab memory is no longer kept in per-cgroup caches), or when the cgroup is gone.
 */
export function readKmemSlabinfo(layout: CgroupLayout, paths: CgroupPaths): string | null {
  const mount = layout.mounts.memory;
  if (mount === undefined || mount.version !== 1 || paths.memory === "/") return null;
  // One record per cache: read to EOF, never through a kept descriptor (those stop at a short read).
  const text = readOptional(`${cgroupDir(mount.dir, paths.memory)}/memory.kmem.slabinfo`);
  return text !== null && text.startsWith(HEADER) ? text : null;
}
