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
import { requestResend } from "../kernel/notify.js";
import { HandleStore, createHandleStoreBuffers, PAGE_SIZE, type RefusalReport } from "./handle-store.js";
import { shareRules, type ShareLimits } from "./share.js";
import { KeptSweeper, createKeptRegistryBuffers } from "../cgroup/kept-files.js";
import { LoadTable, createLoadTableBuffers } from "./load/table.js";
import { LoadTracker } from "./load/tracker.js";
import { SharedStats, createStatsBuffer, type StatValues } from "./stats.js";
import { OnceLog } from "./problems.js";
import {
  GATE_PREDECESSOR_GONE,
  GATE_SERVING,
  type RenderOptions,
  type MainThreadMessage,
  type WorkerConfig,
  type WorkerMessage,
} from "./worker-protocol.js";
import { createInvalidationBuffers } from "./invalidation.js";
import { registeredIds, registration, registrationStamp, unregister } from "../../core/registry.js";
import { registrationGone } from "../cgroup/registered.js";
import { detectLayout } from "../cgroup/layout.js";
import { startInvalidationThread } from "./invalidator.js";

/** The per-container tree's connection, and how its files are cached. */
export interface ContainerTreeOptions {
  fd: number;
  /** The registry directory (core/registry.ts). */
  registry: string;
}

export interface ServingOptions {
  fd: number;
  /** The per-container tree, served by a thread of its own, with an invalidation thread. */
  containers?: ContainerTreeOptions;
  render: RenderOptions;
  /** Serving threads, each keeping one read outstanding on /dev/fuse: with a per-container tree,
   * one of them serves it and the others (at least one) the top-level tree. */
  threads: number;
  /** Seconds between load samples (the kernel uses 5). */
  loadIntervalSeconds: number;
  /** Distinguishes this process's file handles from its predecessors' (1..4095). */
  epoch: number;
  /** How open files and their memory are shared between tenants. */
  share: ShareLimits;
  log: (line: string) => void;
  /** The serving threads cannot stay up (they crash as fast as they are started): the process
   * must end, whole, for the keeper to start another. Default: throw, which ends it uncaught. */
  fatal?: (why: string) => void;
}

export interface Serving {
  stats(): StatValues & { containers: number };
  /** Has the kernel queue again what a predecessor took and never answered. */
  resend(): void;
  /** No other serving process reads the connections any more: the per-container tree is
   * served from now on, after forgetting what a predecessor left in the kernel. */
  predecessorGone(): void;
  /** Resolves when the filesystem is gone (unmounted, or the connection aborted). */
  readonly finished: Promise<void>;
  /** Resolves once every thread is loaded and waits at the gate: they can serve at once. */
  readonly standing: Promise<void>;
  /** Serve: open the gate, start the load sampling. */
  activate(): void;
}

const WORKER_URL = new URL("./worker.js", import.meta.url);
const LOAD_SLOTS = 8192;
/** Files of the per-container tree tracked at once (each filled file until it is invalidated). */
const CACHED_FILES = 65_536;
/** The per-container tree's renderings share a container's numbers read this recently, so that
 * the files a reader reads together (top's four, a monitor's every file) read them once; the
 * kernel keeps a file the rest of --cache-ms. */
const SHARED_NUMBERS_MS = 10;
/** Refused opens are reported at most once per tenant per interval, with their count. */
export const REFUSAL_REPORT_MS = 10_000;
/** How often the descriptors the serving threads keep are checked for idleness and removal. */
const KEPT_SWEEP_MS = 2000;
/** How often registrations of containers that are gone are removed. */
const REGISTRY_SWEEP_MS = 30_000;

export function describeRefusal(report: RefusalReport, intervalMs: number, limits: ShareLimits): string {
  const who = report.host ? report.tenant : `container ${report.tenant}`;
  const share = report.host ? "" : ` (its share: ${limits.containerHandles} files, ${(limits.containerPages * PAGE_SIZE) / 1024} KiB)`;
  return (
    `${who}: ${report.refused} open${report.refused === 1 ? "" : "s"} refused in the last ${intervalMs / 1000} s; ` +
    `it holds ${report.handles} files, ${(report.pages * PAGE_SIZE) / 1024} KiB${share}`
  );
}
/** More serving-thread crashes than this within CRASH_WINDOW_MS: they crash as they start. */
const CRASHES_TOLERATED = 5;
const CRASH_WINDOW_MS = 10_000;

export function startServing(options: ServingOptions): Serving {
  const { fd, log } = options;
  const store = createHandleStoreBuffers(shareRules(options.share), options.epoch);
  const handles = new HandleStore(store);
  const loadBuffers = createLoadTableBuffers(LOAD_SLOTS);
  const statsBuffer = createStatsBuffer();
  const containers = options.containers;
  // The top-level tree's threads, then the per-container tree's (its kept descriptors too).
  const mainThreads = containers ? Math.max(1, options.threads - 1) : options.threads;
  const threads = mainThreads + (containers ? 1 : 0);
  const kept = createKeptRegistryBuffers(threads);
  const invalidation = containers && createInvalidationBuffers(CACHED_FILES);
  const sweeper = new KeptSweeper(kept);
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
  const gate = new SharedArrayBuffer(8);
  const gateCells = new Int32Array(gate);
  let gated = 0;
  let stand!: () => void;
  const standing = new Promise<void>((resolve) => (stand = resolve));
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

  const configOf = (index: number): WorkerConfig => {
    const common = { index, store, loadTable: loadBuffers, stats: statsBuffer, kept, time, gate };
    if (index < mainThreads || !containers || !invalidation) return { ...common, fd, render: options.render };
    const cacheMs = options.render.cacheMs;
    const shared = Math.min(cacheMs, SHARED_NUMBERS_MS);
    return {
      ...common,
      fd: containers.fd,
      render: { ...options.render, cacheMs: shared },
      containers: { registry: containers.registry, keepMs: cacheMs - shared, invalidation },
    };
  };

  const startWorker = (index: number): void => {
    const worker = new Worker(WORKER_URL, { workerData: configOf(index) });
    workers.add(worker);
    worker.on("message", (message: WorkerMessage) =>
      guarded(`message ${message.type} from serving thread ${index}`, () => {
        if (message.type === "track") tracker.track(message.key, message.paths);
        else if (message.type === "gated" && ++gated === threads) stand();
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
            stopTimers();
            giveUp = `serving threads crashed ${crashes.length} times in ${CRASH_WINDOW_MS / 1000} s`;
            return;
          }
          log(`serving thread ${index} exited with ${code}; starting a new one`);
          startWorker(index);
        } else if (workers.size === 0) {
          // Every thread saw the device go away.
          ended = true;
          stopTimers();
          resolveFinished();
        }
      });
      if (giveUp !== null) fatal(giveUp);
    });
  };
  for (let i = 0; i < threads; i++) startWorker(i);

  // Load sampling, refusal reports and the kept-descriptor sweep start when the process serves:
  // a standby samples nothing and holds nothing.
  let sampler: NodeJS.Timeout | undefined;
  let reporter: NodeJS.Timeout | undefined;
  let keptSweep: NodeJS.Timeout | undefined;
  let registrySweep: NodeJS.Timeout | undefined;
  const stopTimers = (): void => {
    clearInterval(sampler);
    clearInterval(reporter);
    clearInterval(keptSweep);
    clearInterval(registrySweep);
  };
  const sweepRegistry = (dir: string): void => {
    const layout = detectLayout(options.render.cgroupRoot);
    const now = Date.now();
    for (const id of registeredIds(dir)) {
      // Removed only if still the record read: a container started again meanwhile (same id, new init) stays.
      const stamp = registrationStamp(dir, id);
      const found = registration(dir, id);
      if (found === null || registrationGone(found, layout, options.render.procRoot, now)) unregister(dir, id, stamp);
    }
  };
  const activate = (): void => {
    if (sampler) return;
    Atomics.store(gateCells, GATE_SERVING, 1);
    Atomics.notify(gateCells, GATE_SERVING);
    // The invalidation thread (not one of the serving threads: it never reads a request) works
    // on `invalidation`, which this closure keeps for the process's life. A standby has none.
    if (containers && invalidation) startInvalidationThread(containers.fd, invalidation, statsBuffer);
    sampler = setInterval(() => guarded("sampling loads", () => tracker.sampleAll()), options.loadIntervalSeconds * 1000);
    reporter = setInterval(
      () =>
        guarded("reporting refused opens", () => {
          for (const report of handles.takeRefusals()) log(describeRefusal(report, REFUSAL_REPORT_MS, options.share));
        }),
      REFUSAL_REPORT_MS,
    );
    keptSweep = setInterval(() => guarded("sweeping kept descriptors", () => sweeper.sweep()), KEPT_SWEEP_MS);
    if (containers)
      registrySweep = setInterval(
        () => guarded("removing registrations of containers that are gone", () => sweepRegistry(containers.registry)),
        REGISTRY_SWEEP_MS,
      );
  };

  return {
    stats: () => ({ ...stats.read(), containers: tracker.size }),
    resend: () => {
      for (const connection of containers ? [fd, containers.fd] : [fd]) {
        try {
          requestResend(connection);
        } catch (err) {
          log(`asking the kernel to resend unanswered requests failed: ${String(err)}`);
        }
      }
    },
    predecessorGone: () => {
      Atomics.add(gateCells, GATE_PREDECESSOR_GONE, 1);
      Atomics.notify(gateCells, GATE_PREDECESSOR_GONE);
    },
    finished,
    standing,
    activate,
  };
}
