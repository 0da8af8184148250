// Entry of one serving thread: builds its own renderer and caches (nothing mutable is shared
// between threads except the handle store and the load table, both in shared memory) and
// runs the blocking request loop until the filesystem goes away.
import { parentPort, workerData } from "node:worker_threads";
import { writeSync } from "node:fs";
import { runRequestLoop } from "../kernel/request-loop.js";
import { HandleStore } from "./handle-store.js";
import { createFilesystem } from "./filesystem.js";
import { Tree } from "./tree.js";
import { createRenderer } from "./render.js";
import { LoadTable } from "./load/table.js";
import { LoadView } from "./load/view.js";
import { WorkerConfig, WorkerMessage } from "./worker-protocol.js";
import { SharedStats } from "./stats.js";
import { useKeptRegistry } from "../cgroup/kept-files.js";
import { VIEW_NAMES } from "../../core/layout.js";
import { OnceLog } from "./problems.js";

const config = workerData as WorkerConfig;
const log = (line: string): void => {
  // Synchronous, one line per event: survives a crash right after it.
  writeSync(2, `procview[${process.pid}/w${config.index}] ${line}\n`);
};
const post = (message: WorkerMessage): void => parentPort?.postMessage(message);

useKeptRegistry(config.kept, config.index);
const tree = new Tree();
const store = new HandleStore(config.store);
const loads = new LoadView(new LoadTable(config.loadTable), parentPort, (key, paths) => post({ type: "track", key, paths }));
// Each problem goes to the main thread once from here; it logs it once for all threads.
const problems = new OnceLog();
const render = createRenderer(config.render, loads, (problem) => {
  if (problems.report(problem)) post({ type: "problem", ...problem });
});
const ops = createFilesystem(tree, store, render, log, new SharedStats(config.stats));

if (config.gate && !Atomics.load(new Int32Array(config.gate), 0)) {
  // A standby's thread: everything above is loaded, and each view rendered once (for this
  // process, as the host) so that its code is compiled: taking over costs this wake-up, not a
  // start, and the first requests after it are not slowed by cold code.
  for (const view of VIEW_NAMES) {
    try {
      render(view, { pid: process.pid, uid: 0, gid: 0 });
    } catch {
      // A warm-up only: the real request reports its own failure.
    }
  }
  post({ type: "gated" });
  Atomics.wait(new Int32Array(config.gate), 0, 0);
}

const end = runRequestLoop({
  fd: config.fd,
  ops,
  cache: { entrySeconds: 3600, dirAttrSeconds: 3600, fileAttrSeconds: 0 },
  time: config.time,
  log,
  onInit: (init) => post({ type: "init", ...init }),
});
post({ type: "ended", how: end });
