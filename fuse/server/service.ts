// The serving process: owns the mount and the /dev/fuse descriptor, runs the serving
// threads, samples load averages, and unmounts on request.
import { Worker } from "node:worker_threads";
import {
  MountError,
  closeDevice,
  detachMount,
  mountFuse,
  mountpointState,
  openFuseDevice,
  prepareMountpoint,
} from "../kernel/mount.js";
import { createHandleStoreBuffers } from "./handle-store.js";
import { LoadTable, createLoadTableBuffers } from "./load-table.js";
import { LoadTracker } from "./load-tracker.js";
import type { RenderOptions, ServiceMessage, WorkerConfig, WorkerMessage } from "./worker-protocol.js";

export interface ServeOptions {
  mountPoint: string;
  render: RenderOptions;
  /** Serving threads, each keeping one read outstanding on /dev/fuse. */
  threads: number;
  /** Seconds between load samples (the kernel uses 5). */
  loadIntervalSeconds: number;
  log: (line: string) => void;
}

export interface RunningService {
  readonly mountPoint: string;
  stop(): Promise<void>;
  /** Resolves when the filesystem was unmounted from outside or the service was stopped. */
  readonly finished: Promise<void>;
}

const WORKER_URL = new URL("./worker.js", import.meta.url);
const LOAD_SLOTS = 8192;

export async function serve(options: ServeOptions): Promise<RunningService> {
  const { mountPoint, log } = options;
  prepareMountpoint(mountPoint);
  const state = mountpointState(mountPoint);
  if (state === "live") {
    throw new MountError(`${mountPoint} is already a live FUSE mount (another procview or lxcfs serves it): stop it first`);
  }
  if (state === "stale") {
    log(`replacing the stale FUSE mount left at ${mountPoint} by a server that died`);
    await detachMount(mountPoint);
  }

  const fd = openFuseDevice();
  try {
    await mountFuse({ fd, mountPoint, source: "procview" });
  } catch (err) {
    closeDevice(fd);
    throw err;
  }
  log(`mounted at ${mountPoint}`);

  const store = createHandleStoreBuffers({ pages: 4096, handles: 4096 });
  const loadBuffers = createLoadTableBuffers(LOAD_SLOTS);
  const loadTable = new LoadTable(loadBuffers);
  const now = Date.now();
  const time = { seconds: Math.floor(now / 1000), nanoseconds: (now % 1000) * 1e6 };
  const workers = new Set<Worker>();
  let stopping = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  const broadcast = (message: ServiceMessage): void => {
    for (const worker of workers) worker.postMessage(message);
  };
  const tracker = new LoadTracker(options.render, loadTable, LOAD_SLOTS, broadcast, log);

  const startWorker = (index: number): void => {
    const config: WorkerConfig = { index, fd, store, loadTable: loadBuffers, render: options.render, time };
    const worker = new Worker(WORKER_URL, { workerData: config });
    workers.add(worker);
    worker.on("message", (message: WorkerMessage) => {
      if (message.type === "track") tracker.track(message.key, message.paths);
      else if (message.type === "init") log(`kernel speaks FUSE ${message.kernelMajor}.${message.kernelMinor}; talking 7.${message.minor}`);
    });
    for (const message of tracker.assignments()) worker.postMessage(message);
    worker.on("error", (err) => log(`serving thread ${index} crashed: ${err.stack ?? err.message}`));
    worker.on("exit", (code) => {
      workers.delete(worker);
      if (stopping) return;
      if (workers.size === 0 && code === 0) {
        // Every thread saw the device go away: someone unmounted us.
        log(`${mountPoint} was unmounted; stopping`);
        void shutdown();
        return;
      }
      if (code !== 0) {
        log(`serving thread ${index} exited with ${code}; starting a new one`);
        startWorker(index);
      }
    });
  };
  for (let i = 0; i < options.threads; i++) startWorker(i);

  const sampler = setInterval(() => tracker.sampleAll(), options.loadIntervalSeconds * 1000);

  async function shutdown(): Promise<void> {
    if (stopping) return finished;
    stopping = true;
    clearInterval(sampler);
    try {
      await detachMount(mountPoint);
    } catch (err) {
      // Already gone (unmounted from outside): nothing to undo.
      if (mountpointState(mountPoint) !== "free") log(String(err));
    }
    await Promise.all([...workers].map((worker) => worker.terminate()));
    closeDevice(fd);
    log(`unmounted ${mountPoint}`);
    resolveFinished();
  }

  return { mountPoint, stop: shutdown, finished };
}
