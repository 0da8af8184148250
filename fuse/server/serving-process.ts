// The serving process: its main thread starts the serving threads (Node workers, each running the
// request loop on an already mounted /dev/fuse descriptor) and samples the load. It does not own
// the mount: the keeper (fuse/keeper) does, and starts a new serving process with the same
// descriptor whenever this one dies or is replaced.
import { Worker } from "node:worker_threads";
import { requestResend } from "../kernel/request-loop.js";
import { createHandleStoreBuffers } from "./handle-store.js";
import { LoadTable, createLoadTableBuffers } from "./load/table.js";
import { LoadTracker } from "./load/tracker.js";
import { SharedStats, createStatsBuffer, type StatValues } from "./stats.js";
import { OnceLog } from "./problems.js";
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
  /** The serving threads cannot stay up (they crash as fast as they are started): the process
   * must end, whole, for the keeper to start another. Default: throw, which ends it uncaught. */
  fatal?: (why: string) => void;
}

export interface Serving {
  stats(): StatValues & { containers: number };
  /** Has the kernel queue again what a predecessor took and never answered. */
  resend(): void;
  /** Resolves when the filesystem is gone (unmounted, or the connection aborted). */
  readonly finished: Promise<void>;
}

const WORKER_URL = new URL("./worker.js", import.meta.url);
const LOAD_SLOTS = 8192;
/** More serving-thread crashes than this within CRASH_WINDOW_MS: they crash as they start. */
const CRASHES_TOLERATED = 5;
const CRASH_WINDOW_MS = 10_000;

export function startServing(options: ServingOptions): Serving {
  const { fd, log } = options;
  const store = createHandleStoreBuffers({ pages: 4096, handles: 4096 }, options.epoch);
  const loadBuffers = createLoadTableBuffers(LOAD_SLOTS);
  const statsBuffer = createStatsBuffer();
  const stats = new SharedStats(statsBuffer);
  const now = Date.now();
  const time = { seconds: Math.floor(now / 1000), nanoseconds: (now % 1000) * 1e6 };
  const workers = new Set<Worker>();
  const crashes: number[] = [];
  const fatal =
    options.fatal ??
    ((why: string) => {
      throw new Error(why);
    });
  let ended = false;
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));

  const broadcast = (message: MainThreadMessage): void => {
    for (const worker of workers) worker.postMessage(message);
  };
  const problems = new OnceLog(log);
  const tracker = new LoadTracker(options.render, new LoadTable(loadBuffers), LOAD_SLOTS, broadcast, log, problems);
  /** Every handler and timer of this thread runs through here: its cgroup reads are failure-safe
   * already, and whatever else goes wrong in one is logged, never allowed to end the thread (the
   * serving threads would be left blocked on /dev/fuse with nobody to count their loads). */
  const guarded = (what: string, run: () => void): void => {
    try {
      run();
    } catch (err) {
      log(`${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  };

  const startWorker = (index: number): void => {
    const config: WorkerConfig = { index, fd, store, loadTable: loadBuffers, stats: statsBuffer, render: options.render, time };
    const worker = new Worker(WORKER_URL, { workerData: config });
    workers.add(worker);
    worker.on("message", (message: WorkerMessage) =>
      guarded(`message ${message.type} from serving thread ${index}`, () => {
        if (message.type === "track") tracker.track(message.key, message.paths);
        else if (message.type === "problem") problems.report(message);
        else if (message.type === "init")
          log(`kernel speaks FUSE ${message.kernelMajor}.${message.kernelMinor}; talking 7.${message.minor}`);
      }),
    );
    for (const message of tracker.assignments()) worker.postMessage(message);
    worker.on("error", (err) => log(`serving thread ${index} crashed: ${err.stack ?? err.message}`));
    worker.on("exit", (code) => {
      let giveUp: string | null = null;
      guarded(`restarting serving thread ${index}`, () => {
        workers.delete(worker);
        if (ended) return;
        if (code !== 0) {
          const now = Date.now();
          crashes.push(now);
          while (crashes.length > 0 && now - crashes[0]! > CRASH_WINDOW_MS) crashes.shift();
          if (crashes.length > CRASHES_TOLERATED) {
            // Restarting them forever would leave the process up and nobody reading /dev/fuse.
            ended = true;
            clearInterval(sampler);
            giveUp = `serving threads crashed ${crashes.length} times in ${CRASH_WINDOW_MS / 1000} s`;
            return;
          }
          log(`serving thread ${index} exited with ${code}; starting a new one`);
          startWorker(index);
        } else if (workers.size === 0) {
          // Every thread saw the device go away.
          ended = true;
          clearInterval(sampler);
          resolveFinished();
        }
      });
      if (giveUp !== null) fatal(giveUp);
    });
  };
  for (let i = 0; i < options.threads; i++) startWorker(i);
  const sampler = setInterval(() => guarded("sampling loads", () => tracker.sampleAll()), options.loadIntervalSeconds * 1000);

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
  };
}
