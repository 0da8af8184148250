// procview's speed and memory targets, as numbers, and the verdicts they give. Pure.

/** Every median latency: procview ≤ 0.5 × LXCFS. */
export const LATENCY_MAX_RATIO = 0.5;
/** Throughput at these reader counts: procview ≥ 2 × LXCFS. */
export const THROUGHPUT_MIN_RATIO = 2;
export const THROUGHPUT_TARGET_READERS: readonly number[] = [2, 8];
/** Per-read cost (median) at the most cgroups ≤ 1.2 × at one. */
export const SCALE_MAX_GROWTH = 1.2;
/** Resident memory of the serving process after the many-cgroup run. */
export const RSS_MAX_BYTES = 64 * 1024 * 1024;
/** "Idle CPU near 0": at most this share of one CPU, averaged over the idle window. */
export const IDLE_CPU_MAX_SHARE = 0.01;
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
export const rssVerdict = (bytes: number): Verdict => atMost(bytes, RSS_MAX_BYTES);
export const idleVerdict = (cpuMs: number, windowSeconds: number): Verdict => atMost(cpuMs / (windowSeconds * 1000), IDLE_CPU_MAX_SHARE);
export const hookVerdict = (addedMs: number): Verdict => atMost(addedMs, HOOK_MAX_ADDED_MS);
