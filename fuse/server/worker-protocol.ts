// What the serving process's main thread and its serving threads (Node workers) tell each other.
import type { HandleStoreBuffers } from "./handle-store.js";
import type { Timestamp } from "../kernel/encode.js";
import type { NegotiatedInit } from "../kernel/request-loop.js";
import type { LoadTableBuffers } from "./load/table.js";
import type { CgroupPaths } from "../cgroup/caller.js";
import type { KeptRegistryBuffers } from "../cgroup/kept-files.js";
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
  /** A standby's thread waits on cell 0 of this until it is non-zero before reading requests. */
  gate?: SharedArrayBuffer;
}

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
