// Entry of the invalidation thread: the only thing it does is tell the kernel, at the time the
// per-container tree's serving thread set, to forget a file it filled (see container-tree.ts
// and invalidation.ts). A thread of its own because the notification waits for reads of the
// file under way, which the serving thread answers, and because nothing else may delay it: a
// timer on the main thread waited behind the load sampling, leaving numbers seconds old.
import { workerData } from "node:worker_threads";
import { writeFileSync, writeSync } from "node:fs";
import { Notifier } from "../kernel/notify.js";
import { InvalidationSchedule, type InvalidationBuffers } from "./invalidation.js";
import { SharedStats } from "./stats.js";

export interface InvalidatorConfig {
  /** The per-container tree's FUSE connection. */
  fd: number;
  buffers: InvalidationBuffers;
  stats: SharedArrayBuffer;
  /** A standby's thread waits on cell 0 until it is non-zero. */
  gate: SharedArrayBuffer;
}

const config = workerData as InvalidatorConfig;
try {
  // Its name in /proc (top -H, ps -L, the bench's CPU per thread).
  writeFileSync("/proc/thread-self/comm", "pv-invalidate");
} catch {
  // A name is a convenience.
}
const notifier = new Notifier(config.fd);
const schedule = new InvalidationSchedule(config.buffers);
const stats = new SharedStats(config.stats);
const gate = new Int32Array(config.gate);
while (Atomics.load(gate, 0) === 0) Atomics.wait(gate, 0, 0);

for (;;) {
  const due = schedule.next(Date.now);
  try {
    // The attributes and every cached page: the next read renders afresh.
    notifier.invalidate(due.inode, 0, 0);
    stats.add("invalidations");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The connection is gone: so is everything it held.
    if (code === "ENODEV" || code === "EBADF") break;
    writeSync(2, `procview[${process.pid}/invalidation] invalidating node ${due.inode} failed: ${String(err)}\n`);
  }
  schedule.finish(due);
}
