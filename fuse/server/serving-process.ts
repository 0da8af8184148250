// The serving process: its main thread starts the serving threads (Node workers, each running the
// request loop on an already mounted /dev/fuse descriptor) and samples the load. It does not own
// the mount: the keeper (fuse/keeper) does, and starts a new serving process with the same
// descriptor whenever this one dies or is replaced.
//
// A serving process starts as a standby: its serving threads load everything they need, warm
// up, and wait at a gate (an Atomics.wait on shared memory), so that taking over costs a
// wake-up, not a start. activate() opens the gate and starts the load sampling. Every thread is
// started ahead: with one, the backlog of a takeover under 20 readers in 20 cgroups took twice
// as long (worst read 440-475 ms against 245 ms on a busy 2-CPU VM), for ~8 MiB less.
import { Worker } from "node:worker_threads";
import { requestResend } from "../kernel/request-loop.js";
import { createHandleStoreBuffers } from "./handle-store.js";
import { LoadTable, createLoadTableBuffers } from "./load/table.js";
import { LoadTracker } from "./load/tracker.js";
import { SharedStats, createStatsBuffer, type StatValues } from "./stats.js";
import type { RenderOptions, MainThreadMessage, WorkerConfig, WorkerMessage } from "./worker-protocol.js";

export interface ServingOptions {
  fd: number;
  render: RenderOptions;
  /** Serving threads, each keeping one read outstanding on /dev/fuse. */
  threads: number;
  /** Seconds between load samples (the kernel uses 5). */
  loadIntervalSeconds: number;
  /** Distinguishes this process's file handles from its predecessors' (1..4095). */
  epoch: number;
  log: (line: string) => void;
}

export interface Serving {
  stats(): StatValues & { containers: number };
  /** Has the kernel queue again what a predecessor took and never answered. */
  resend(): void;
  /** Resolves when the filesystem is gone (unmounted, or the connection aborted). */
  readonly finished: Promise<void>;
  /** Resolves once every thread is loaded and waits at the gate: they can serve at once. */
  readonly standing: Promise<void>;
  /** Serve: open the gate, start the load sampling. */
  activate(): void;
}

const WORKER_URL = new URL("./worker.js", import.meta.url);
const LOAD_SLOTS = 8192;

export function startServing(options: ServingOptions): Serving {
  const { fd, log } = options;
  const store = createHandleStoreBuffers({ pages: 4096, handles: 4096 }, options.epoch);
  const loadBuffers = createLoadTableBuffers(LOAD_SLOTS);
  const statsBuffer = createStatsBuffer();
  const stats = new SharedStats(statsBuffer);
  const now = Date.now();
  const time = { seconds: Math.floor(now / 1000), nanoseconds: (now % 1000) * 1e6 };
  const workers = new Set<Worker>();
  let ended = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  const broadcast = (message: MainThreadMessage): void => {
    for (const worker of workers) worker.postMessage(message);
  };
  const tracker = new LoadTracker(options.render, new LoadTable(loadBuffers), LOAD_SLOTS, broadcast, log);
  const gate = new SharedArrayBuffer(4);
  let gated = 0;
  let stand!: () => void;
  const standing = new Promise<void>((resolve) => (stand = resolve));

  const startWorker = (index: number): void => {
    const config: WorkerConfig = { index, fd, store, loadTable: loadBuffers, stats: statsBuffer, render: options.render, time, gate };
    const worker = new Worker(WORKER_URL, { workerData: config });
    workers.add(worker);
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "track") tracker.track(message.key, message.paths);
      else if (message.type === "gated" && ++gated === options.threads) stand();
      else if (message.type === "init") log(`kernel speaks FUSE ${message.kernelMajor}.${message.kernelMinor}; talking 7.${message.minor}`);
    });
    for (const message of tracker.assignments()) worker.postMessage(message);
    worker.on("error", (err) => log(`serving thread ${index} crashed: ${err.stack ?? err.message}`));
    worker.on("exit", (code) => {
      workers.delete(worker);
      if (ended) return;
      if (code !== 0) {
        log(`serving thread ${index} exited with ${code}; starting a new one`);
        startWorker(index);
      } else if (workers.size === 0) {
        // Every thread saw the device go away.
        ended = true;
        clearInterval(sampler);
        resolveFinished();
      }
    });
  };
  for (let i = 0; i < options.threads; i++) startWorker(i);
  let sampler: NodeJS.Timeout | undefined;
  const activate = (): void => {
    if (sampler) return;
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    sampler = setInterval(() => tracker.sampleAll(), options.loadIntervalSeconds * 1000);
  };

  return {
    stats: () => ({ ...stats.read(), containers: tracker.size }),
    resend: () => {
      try {
        requestResend(fd);
      } catch (err) {
        log(`asking the kernel to resend unanswered requests failed: ${String(err)}`);
      }
    },
    finished,
    standing,
    activate,
  };
}
