// What the serving process's main thread and its serving threads (Node workers) tell each other.
import type { HandleStoreBuffers } from "./handle-store.js";
import type { Timestamp } from "../kernel/encode.js";
import type { NegotiatedInit } from "../kernel/request-loop.js";
import type { LoadTableBuffers } from "./load/table.js";
import type { CgroupPaths } from "../cgroup/caller.js";
import type { KeptRegistryBuffers } from "../cgroup/kept-files.js";
import type { InvalidationBuffers } from "./invalidation.js";
import { z } from "zod";

/** How views are rendered; validated where it crosses processes (the keeper's config). */
export const RenderOptionsSchema = z.object({
  procRoot: z.string().min(1),
  sysRoot: z.string().min(1),
  cgroupRoot: z.string().min(1),
  /** Cut the CPUs shown to ceil(quota/period). */
  useCpuQuota: z.boolean(),
  /** How long one container's numbers are reused. */
  cacheMs: z.number().int().min(0),
});
export type RenderOptions = z.infer<typeof RenderOptionsSchema>;

export interface WorkerConfig {
  index: number;
  fd: number;
  store: HandleStoreBuffers;
  loadTable: LoadTableBuffers;
  stats: SharedArrayBuffer;
  /** Where the thread registers the descriptors it keeps, for the service to close when idle. */
  kept: KeptRegistryBuffers;
  render: RenderOptions;
  time: Timestamp;
  /** A standby's thread waits on cell 0 of this until it is non-zero before reading requests;
   * the per-container tree's thread then waits on cell 1 too (see GATE_*). */
  gate?: SharedArrayBuffer;
  /** Set on the per-container tree's serving thread, whose connection `fd` is. */
  containers?: ContainerThreadConfig;
}

export interface ContainerThreadConfig {
  /** The registry directory (core/registry.ts). */
  registry: string;
  /** How long the kernel may keep a file after its rendering. */
  keepMs: number;
  invalidation: InvalidationBuffers;
}

/** Cells of the gate: serving (0 until the process serves), and how many times a predecessor
 * was found gone (the per-container tree is served from the first). */
export const GATE_SERVING = 0;
export const GATE_PREDECESSOR_GONE = 1;

/** Serving thread → main thread. */
export type WorkerMessage =
  | ({ type: "init" } & NegotiatedInit)
  /** A container was read for the first time by this worker: start sampling its load. */
  | { type: "track"; key: string; paths: CgroupPaths }
  /** An unexpected read failure, for the main thread to log once for all threads. */
  | { type: "problem"; key: string; line: string }
  | { type: "ended"; how: string }
  /** Loaded and waiting at the gate: the standby can serve at once. */
  | { type: "gated" };

/** Main thread → serving threads. */
export type MainThreadMessage = { type: "slot"; key: string; slot: number; id: number };
