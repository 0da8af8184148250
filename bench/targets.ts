// procview's speed and memory targets, as numbers, and the verdicts they give. Pure.

/** Every median latency: procview ≤ 0.5 × LXCFS. */
export const LATENCY_MAX_RATIO = 0.5;
/** Throughput at these reader counts: procview ≥ 2 × LXCFS. */
export const THROUGHPUT_MIN_RATIO = 2;
export const THROUGHPUT_TARGET_READERS: readonly number[] = [2, 8];
/** Per-read cost (median) at the most cgroups ≤ 1.2 × at one. */
export const SCALE_MAX_GROWTH = 1.2;
/** PSS of all procview's processes together after the many-cgroup run. */
export const PSS_MAX_BYTES = 64 * 1024 * 1024;
/** Resident memory of the keeper (the native program that owns the mount). */
export const KEEPER_RSS_MAX_BYTES = 2 * 1024 * 1024;
/** The longest read 20 readers see when the serving process is killed (kill -9). */
export const TAKEOVER_MAX_STALL_MS = 100;
/** A stopped serving process: readers resume within this long after the watchdog's deadline. */
export const WATCHDOG_MAX_OVERRUN_MS = 1000;
/** "Idle CPU near 0": at most this share of one CPU, averaged over the idle window. */
export const IDLE_CPU_MAX_SHARE = 0.01;
/** Repeated reads of a container's own file through a bind: median ≤ 2 × the kernel's own file. */
export const BOUND_MAX_OVER_KERNEL = 2;
/** The first read after the kernel dropped a container's file: median ≤ 0.5 × LXCFS. */
export const FIRST_READ_MAX_RATIO = 0.5;
/** Time the hook adds to `podman run --rm … true`. */
export const HOOK_MAX_ADDED_MS = 60;

export type Verdict = "met" | "missed" | "info" | { notMeasured: string };

const atMost = (value: number, limit: number): Verdict =>
  Number.isFinite(value) ? (value <= limit ? "met" : "missed") : { notMeasured: "no figure" };
const atLeast = (value: number, limit: number): Verdict =>
  Number.isFinite(value) ? (value >= limit ? "met" : "missed") : { notMeasured: "no figure" };

export const latencyVerdict = (procviewOverLxcfs: number): Verdict => atMost(procviewOverLxcfs, LATENCY_MAX_RATIO);
export const throughputVerdict = (readers: number, procviewOverLxcfs: number): Verdict =>
  THROUGHPUT_TARGET_READERS.includes(readers) ? atLeast(procviewOverLxcfs, THROUGHPUT_MIN_RATIO) : "info";
export const scaleVerdict = (growth: number): Verdict => atMost(growth, SCALE_MAX_GROWTH);
export const pssVerdict = (bytes: number): Verdict => atMost(bytes, PSS_MAX_BYTES);
export const keeperRssVerdict = (bytes: number): Verdict => atMost(bytes, KEEPER_RSS_MAX_BYTES);
export const takeoverVerdict = (worstStallMs: number): Verdict => atMost(worstStallMs, TAKEOVER_MAX_STALL_MS);
export const watchdogVerdict = (worstStallMs: number, deadlineMs: number): Verdict =>
  atMost(worstStallMs, deadlineMs + WATCHDOG_MAX_OVERRUN_MS);
export const idleVerdict = (cpuMs: number, windowSeconds: number): Verdict => atMost(cpuMs / (windowSeconds * 1000), IDLE_CPU_MAX_SHARE);
/** Median ≤ 2 × the kernel's and p99 ≤ LXCFS's p99. */
export const boundVerdict = (overKernel: number, p99: number, lxcfsP99: number): Verdict => {
  const median = atMost(overKernel, BOUND_MAX_OVER_KERNEL);
  const tail = atMost(p99, lxcfsP99);
  if (typeof median === "object") return median;
  if (typeof tail === "object") return tail;
  return median === "met" && tail === "met" ? "met" : "missed";
};
export const firstReadVerdict = (overLxcfs: number): Verdict => atMost(overLxcfs, FIRST_READ_MAX_RATIO);
export const hookVerdict = (addedMs: number): Verdict => atMost(addedMs, HOOK_MAX_ADDED_MS);
