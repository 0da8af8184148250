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
  privateBytes: number;
}

export interface HookTiming {
  runs: number;
  /** With the hooks file `procview install hooks` writes: procview-hook asking the serving process. */
  withMedianMs: number;
  withoutMedianMs: number;
  /** With a hooks file that runs the Node hook itself (--no-client), for comparison. */
  nodeHookMedianMs?: number;
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
  idle: { procview: Outcome<IdleCpu>; lxcfs: Outcome<IdleCpu> };
  hook: Outcome<HookTiming>;
}
