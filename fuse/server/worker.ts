// Entry of one serving thread: builds its own renderer and caches (nothing mutable is shared
// between threads except the handle store, the load table and the invalidation queue, all in
// shared memory) and runs the blocking request loop until the filesystem goes away. A thread
// serves one connection: the tree at the mountpoint (files rendered per reader), or the
// per-container tree (files served from the kernel's page cache: container-tree.ts).
import { parentPort, workerData } from "node:worker_threads";
import { writeFileSync, writeSync } from "node:fs";
import { runRequestLoop, type FuseOps } from "../kernel/request-loop.js";
import { Notifier } from "../kernel/notify.js";
import { HandleStore } from "./handle-store.js";
import { createFilesystem } from "./filesystem.js";
import { Tree } from "./tree.js";
import { createContainerRenderer, createRenderer } from "./render.js";
import { createContainerTree, type ContainerTree } from "./container-tree.js";
import { InvalidationQueue } from "./invalidation.js";
import { wakeInvalidationThread } from "./invalidator.js";
import { LoadTable } from "./load/table.js";
import { LoadView } from "./load/view.js";
import { GATE_PREDECESSOR_GONE, GATE_SERVING, WorkerConfig, WorkerMessage } from "./worker-protocol.js";
import { SharedStats } from "./stats.js";
import { useKeptRegistry } from "../cgroup/kept-files.js";
import { readStat } from "../cgroup/process.js";
import { VIEW_NAMES } from "../../core/layout.js";
import { OnceLog, type Problem } from "./problems.js";

const config = workerData as WorkerConfig;
const log = (line: string): void => {
  // Synchronous, one line per event: survives a crash right after it.
  writeSync(2, `procview[${process.pid}/w${config.index}] ${line}\n`);
};
const post = (message: WorkerMessage): void => parentPort?.postMessage(message);

/** The thread's name in /proc (top -H, ps -L, and the bench's CPU per thread). */
function nameThread(name: string): void {
  try {
    writeFileSync("/proc/thread-self/comm", name.slice(0, 15));
  } catch {
    // A name is a convenience.
  }
}

useKeptRegistry(config.kept, config.index);
nameThread(config.containers ? "pv-containers" : `pv-serve-${config.index}`);
const tree = new Tree();
const loads = new LoadView(new LoadTable(config.loadTable), parentPort, (key, paths) => post({ type: "track", key, paths }));
// Each problem goes to the main thread once from here; it logs it once for all threads.
const problems = new OnceLog();
const report = (problem: Problem): void => {
  if (problems.report(problem)) post({ type: "problem", ...problem });
};
const stats = new SharedStats(config.stats);
const gate = config.gate && new Int32Array(config.gate);

let ops: FuseOps;
let containerTree: ContainerTree | undefined;
let warmUp: () => void;
if (config.containers) {
  const { registry, keepMs, invalidation } = config.containers;
  const render = createContainerRenderer(config.render, loads, report);
  containerTree = createContainerTree({
    tree,
    registry,
    render,
    notifier: new Notifier(config.fd),
    queue: new InvalidationQueue(invalidation, wakeInvalidationThread),
    slots: invalidation.slots,
    keepMs,
    stats,
    log,
  });
  ops = containerTree;
  warmUp = () => {
    const startTicks = readStat(config.render.procRoot, process.pid)?.startTicks;
    const self = startTicks === undefined ? null : render.resolve({ id: "procview", pid: process.pid, startTicks, by: "hook", at: 0 });
    if (self) for (const view of VIEW_NAMES) render.render(view, self);
  };
} else {
  const render = createRenderer(config.render, loads, report);
  ops = createFilesystem(tree, new HandleStore(config.store), render, log, stats);
  warmUp = () => {
    for (const view of VIEW_NAMES) render(view, { pid: process.pid, uid: 0, gid: 0 });
  };
}

if (gate && !Atomics.load(gate, GATE_SERVING)) {
  // A standby's thread: everything above is loaded, and each view rendered once (for this
  // process, as the host) so that its code is compiled: taking over costs this wake-up, not a
  // start, and the first requests after it are not slowed by cold code.
  try {
    warmUp();
  } catch {
    // A warm-up only: the real request reports its own failure.
  }
  post({ type: "gated" });
  Atomics.wait(gate, GATE_SERVING, 0);
}

let beforeRequest: (() => void) | undefined;
if (containerTree && gate) {
  const tree = containerTree;
  // Cached files must be answered by one process alone: this one serves them once no other
  // serving process reads the connection any more, and forgets first what the kernel kept.
  while (Atomics.load(gate, GATE_PREDECESSOR_GONE) === 0) Atomics.wait(gate, GATE_PREDECESSOR_GONE, 0);
  let swept = 0;
  beforeRequest = () => {
    stats.add("treeRequests");
    const gone = Atomics.load(gate, GATE_PREDECESSOR_GONE);
    if (gone !== swept) {
      swept = gone;
      tree.afterPredecessor();
    }
    tree.beforeRequest();
  };
  tree.afterPredecessor();
  swept = Atomics.load(gate, GATE_PREDECESSOR_GONE);
}

const end = runRequestLoop({
  fd: config.fd,
  ops,
  cache: { entrySeconds: 3600, dirAttrSeconds: 3600, fileAttrSeconds: 0 },
  time: config.time,
  log,
  onInit: (init) => post({ type: "init", ...init }),
  cached: containerTree !== undefined,
  beforeRequest,
  afterReply: containerTree && (() => containerTree.afterReply()),
});
post({ type: "ended", how: end });
