// The served layout, defined once: which files procview serves, where each sits under the
// mountpoint (LXCFS's layout, so manifests written for /var/lib/lxcfs work unchanged), which
// of them the integrations bind into containers, and the per-container copies of the tree.

export const VIEW_NAMES = [
  "meminfo",
  "cpuinfo",
  "stat",
  "uptime",
  "loadavg",
  "diskstats",
  "swaps",
  "cpu-online",
  "cpu-possible",
  "cpu-present",
  "cpu-offline",
  "pressure-cpu",
  "pressure-memory",
  "pressure-io",
  "vmstat",
  "slabinfo",
] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

/** Relative path of each served file under the mountpoint, and under "/" in a container. */
export const VIEW_PATHS = {
  meminfo: "proc/meminfo",
  cpuinfo: "proc/cpuinfo",
  stat: "proc/stat",
  uptime: "proc/uptime",
  loadavg: "proc/loadavg",
  diskstats: "proc/diskstats",
  swaps: "proc/swaps",
  "cpu-online": "sys/devices/system/cpu/online",
  "cpu-possible": "sys/devices/system/cpu/possible",
  "cpu-present": "sys/devices/system/cpu/present",
  "cpu-offline": "sys/devices/system/cpu/offline",
  "pressure-cpu": "proc/pressure/cpu",
  "pressure-memory": "proc/pressure/memory",
  "pressure-io": "proc/pressure/io",
  vmstat: "proc/vmstat",
  slabinfo: "proc/slabinfo",
} as const satisfies Record<ViewName, string>;

/** Views only root may open, as the kernel's own file is 0400 (slab layout is a kernel exploit's map). */
export const ROOT_ONLY_VIEWS: ReadonlySet<ViewName> = new Set<ViewName>(["slabinfo"]);

/** The views the OCI hook and the NRI plugin bind over a container's own files: LXCFS's set,
 * then pressure, vmstat and slabinfo. possible/present/offline are served for LXCFS-style
 * manifests that name them. */
export const BOUND_VIEWS = [
  "meminfo",
  "cpuinfo",
  "stat",
  "uptime",
  "loadavg",
  "diskstats",
  "swaps",
  "cpu-online",
  "pressure-cpu",
  "pressure-memory",
  "pressure-io",
  "vmstat",
  "slabinfo",
] as const satisfies readonly ViewName[];
export type BoundView = (typeof BOUND_VIEWS)[number];

/** The bound views' paths, relative to the source directory and to "/" in the container. */
export const VIEW_FILES = BOUND_VIEWS.map((view) => VIEW_PATHS[view]);
export type ViewFile = (typeof VIEW_PATHS)[BoundView];

/** The directory holding one copy of the whole layout per container: containers/<id>/proc/meminfo.
 * A FUSE mount of its own is attached there, whose files the kernel serves from its page cache. */
export const CONTAINERS_DIR = "containers";
/** The source mountinfo shows for that mount (fuse/keeper/native/mount.c). */
export const CONTAINERS_SOURCE = "procview-containers";

/**
 * A container id as OCI runtimes and CRI allow it (runc: [\w+.-]+; podman, containerd: 64 hex);
 * anything else gets no directory of its own.
 */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

/** 40-bit hash of a container id (two FNV-1a variants): the node ids of containers/<id>/.
 * Not keyed, so ids can be chosen to collide: the registry (core/registry.ts) refuses an id whose
 * hash a registered container holds, and the per-container tree serves a hash to one id only. */
export function containerHash(id: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return (a * 256 + (b & 0xff)) % 2 ** 40;
}

/** `<source>/containers/<id>`: where a container's own copy of the layout is. */
export function containerDir(source: string, id: string): string {
  return `${source}/${CONTAINERS_DIR}/${id}`;
}

/** The meminfo file whose first bytes tell a live LXCFS-layout source ("MemTotal:"). */
export const PROBE_FILE = VIEW_PATHS.meminfo;
