// What the scenarios hand to the table: plain data, each figure either measured
// or carrying the reason it was not (a missing piece never stops the whole run).
import type { LatencySummary } from "./stats.js";

export type Outcome<T> = { ok: true; value: T } | { ok: false; why: string };

export const measured = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const notMeasured = <T = never>(why: string): Outcome<T> => ({ ok: false, why });

/** Runs fn; a thrown error becomes a not-measured outcome with its message. */
export async function attempt<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return measured(await fn());
  } catch (err) {
    return notMeasured(oneLine(err));
  }
}

export function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const first = text.split("\n").find((l) => l.trim() !== "") ?? "unknown error";
  return first.length > 160 ? first.slice(0, 157) + "..." : first.trim();
}

export type SystemName = "procview" | "lxcfs" | "kernel";

export interface LatencyRow {
  /** A VIEW_FILES entry, e.g. "proc/meminfo". */
  file: string;
  /** False for files beyond LXCFS's set (pressure, vmstat, slabinfo): reported against the
   * kernel's own file, with no target. */
  targeted?: boolean;
  procview: Outcome<LatencySummary>;
  lxcfs: Outcome<LatencySummary>;
  kernel: Outcome<LatencySummary>;
}

export interface ThroughputRow {
  readers: number;
  /** Reads per second, all readers together. */
  procview: Outcome<number>;
  lxcfs: Outcome<number>;
  kernel: Outcome<number>;
}

export interface ScaleRow {
  /** How many cgroups took turns reading. */
  cgroups: number;
  procview: Outcome<LatencySummary>;
  lxcfs: Outcome<LatencySummary>;
}

export interface IdleCpu {
  /** CPU time (utime + stime) used over the window, in milliseconds. */
  cpuMs: number;
  windowSeconds: number;
}

export interface MemoryDetail {
  pssBytes: number;
  /** The parts of PSS in anonymous memory (heaps) and in files (the node binary, libraries). */
  pssAnonBytes: number;
  pssFileBytes: number;
  privateBytes: number;
}

/** One of procview's processes, by its role. */
export interface ProcessMemory extends MemoryDetail {
  role: "keeper" | "serving" | "standby";
  pid: number;
  rssBytes: number;
}

/** Readers looping over a file while the serving process is disrupted. */
export interface StallRun {
  /** Kills (or stops) of the serving process during the run. */
  disruptions: number;
  readers: number;
  reads: number;
  errors: number;
  /** The longest single read any reader saw. */
  worstStallMs: number;
}

export interface TakeoverResults {
  /** kill -9 of the serving process, with a standby ready each time. */
  standby: Outcome<StallRun>;
  /** The same with --no-standby: a serving process is started when the other dies. */
  coldStart: Outcome<StallRun>;
  /** SIGSTOP of the serving process: the watchdog replaces it past its deadline. */
  watchdog: Outcome<StallRun & { deadlineMs: number }>;
  /** The kernel's own file read the same way, nothing disrupted: the machine's own stalls. */
  baseline: Outcome<StallRun>;
}

export interface HookTiming {
  runs: number;
  /** With the hooks file `procview install hooks` writes: procview-hook asking the serving process. */
  withMedianMs: number;
  withoutMedianMs: number;
  /** With a hooks file that runs the Node hook itself (--no-client), for comparison. */
  nodeHookMedianMs?: number;
}

export interface BoundRow {
  file: string;
  procview: Outcome<LatencySummary>;
  lxcfs: Outcome<LatencySummary>;
  kernel: Outcome<LatencySummary>;
}

export interface FirstReadRow {
  file: string;
  gapMs: number;
  procview: Outcome<LatencySummary>;
  lxcfs: Outcome<LatencySummary>;
  kernel: Outcome<LatencySummary>;
}

export interface LoadRun {
  pattern: "monitor" | "top";
  containers: number;
  /** The window CPU was measured over. */
  seconds: number;
  reads: number;
  errors: number;
  /** utime+stime of every procview process, and of its invalidation thread and its per-container tree's thread. */
  procviewCpuMs: number;
  invalidationCpuMs: number;
  treeCpuMs: number;
  fills: number;
  invalidations: number;
  /** How old the uptime read was (ms): median, p99, max over every read of every container. */
  ageMedianMs: number;
  ageP99Ms: number;
  ageMaxMs: number;
  /** LXCFS's CPU under the same readers on its own files, when measured. */
  lxcfsCpuMs?: number;
}

export interface PageCacheResults {
  bound: Outcome<BoundRow[]>;
  firstRead: Outcome<FirstReadRow[]>;
  load: Outcome<LoadRun[]>;
}

export interface BenchMeta {
  cpus: number;
  kernel: string;
  date: string;
  mode: "quick" | "full";
  node: string;
  lxcfsVersion: string;
  /** Free-form lines describing counts and settings, printed above the table. */
  settings: string[];
  durationSeconds?: number;
}

export interface BenchResults {
  meta: BenchMeta;
  latency: Outcome<LatencyRow[]>;
  throughput: Outcome<ThroughputRow[]>;
  scale: Outcome<ScaleRow[]>;
  rss: { procview: Outcome<number>; lxcfs: Outcome<number> };
  /** VmRSS right after start-up, for context beside the figure after the many-cgroup run. */
  rssAtStart?: { procview: Outcome<number>; lxcfs: Outcome<number> };
  /** Beside VmRSS, which counts the node binary's shared pages once per process: PSS (shared
   * pages split among the processes mapping them) and private memory, summed, after the run. */
  memoryDetail?: { procview: Outcome<MemoryDetail>; lxcfs: Outcome<MemoryDetail> };
  /** procview's processes one by one, after the run. */
  processMemory?: Outcome<ProcessMemory[]>;
  takeover?: Outcome<TakeoverResults>;
  /** The per-container tree, served from the kernel's page cache. */
  pageCache?: PageCacheResults;
  idle: { procview: Outcome<IdleCpu>; lxcfs: Outcome<IdleCpu> };
  hook: Outcome<HookTiming>;
}
