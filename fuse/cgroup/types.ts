// The numbers the cgroup layer hands to the views. Kept free of any I/O so that
// views are pure functions of (these numbers, the host's file text).
// Every quantity says its unit in its name; memory is bytes, CPU time is nanoseconds.

/** Memory statistics normalised across cgroup v1 (`total_*` keys, so sub-cgroups count) and v2 (`memory.stat`). Bytes. */
export interface MemoryStat {
  anonBytes: number;
  fileBytes: number; // page cache
  activeAnonBytes: number;
  inactiveAnonBytes: number;
  activeFileBytes: number;
  inactiveFileBytes: number;
  unevictableBytes: number;
  shmemBytes: number;
  mappedBytes: number;
  swapCachedBytes: number;
  slabReclaimableBytes: number;
  slabUnreclaimableBytes: number;
  dirtyBytes: number;
  writebackBytes: number;
  // Lines the kernel accounts per cgroup only on some versions: null where it does not (v1 has
  // only rss_huge), and then the host's meminfo line stays.
  kernelStackBytes: number | null;
  pageTablesBytes: number | null;
  secPageTablesBytes: number | null;
  percpuBytes: number | null;
  anonHugePagesBytes: number | null;
  shmemHugePagesBytes: number | null;
  fileHugePagesBytes: number | null;
  zswapBytes: number | null;
  zswappedBytes: number | null;
}

export interface SwapNumbers {
  /** Swap the cgroup may use on top of its memory (v1: memsw limit − memory limit; v2: memory.swap.max). null = no cgroup limit. */
  limitBytes: number | null;
  /** Swap in use by the cgroup (v1: memsw usage − memory usage; v2: memory.swap.current). */
  usageBytes: number;
}

export interface MemoryNumbers {
  /** Tightest memory limit from the cgroup up to the root (v2: memory.max or memory.high); null when none is set anywhere. */
  limitBytes: number | null;
  /** What the cgroup is charged now (v1 memory.usage_in_bytes, v2 memory.current). */
  usageBytes: number;
  /** null when the kernel keeps no swap accounting for the cgroup (v1 without memsw files, v2 without memory.swap.*). */
  swap: SwapNumbers | null;
  stat: MemoryStat;
}

export interface CpuQuota {
  quotaUs: number;
  periodUs: number;
}

export interface CpuTime {
  userNs: number;
  systemNs: number;
}

export interface CpuNumbers {
  /** Host CPU ids the cgroup may run on (effective cpuset, nearest non-empty ancestor), ascending. */
  cpuset: number[];
  /** Tightest CFS quota along the path, as the smallest quota/period ratio; null when unlimited everywhere. */
  quota: CpuQuota | null;
  /** CPU time used by the cgroup and everything below it. */
  usage: CpuTime;
  /** Per host CPU id, when the kernel reports it (v1 cpuacct.usage_all); null on v2. */
  usagePerCpu: Map<number, CpuTime> | null;
}

export interface IoDeviceNumbers {
  major: number;
  minor: number;
  readBytes: number;
  writeBytes: number;
  reads: number;
  writes: number;
  discardBytes: number;
  discards: number;
}

export interface TaskNumbers {
  /** Tasks (threads) in state R. */
  running: number;
  /** Tasks in state D. */
  blocked: number;
  /** All tasks (threads). */
  total: number;
  /** Highest pid among the container's processes, as numbered inside its pid namespace. */
  lastPid: number;
}

/** 1/5/15-minute load averages, already as decimals (e.g. 0.42). */
export interface LoadNumbers {
  load1: number;
  load5: number;
  load15: number;
}
