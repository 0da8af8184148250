// The per-container tree's invalidation thread: a native thread (native/procview-invalidate.c)
// whose only work is to tell the kernel, at the time the tree's serving thread set, to forget a
// file it filled (see container-tree.ts and invalidation.ts). A thread of its own because the
// notification waits for reads of the file under way, which the serving thread answers, and
// because nothing else may delay it: a timer on the main thread waited behind the load sampling,
// leaving numbers seconds old. Native because a Node worker would cost a JavaScript heap of its
// own, in the serving process and in the standby, for a loop that allocates nothing.
import { createRequire } from "node:module";
import { INVALIDATE_ADDON } from "../../core/paths.js";
import { invalidationArrays, type InvalidationBuffers } from "./invalidation.js";
import { statCell } from "./stats.js";

interface InvalidateAddon {
  start(fd: number, ...arrays: [...ReturnType<typeof invalidationArrays>, Int32Array]): void;
  wake(): void;
  stop(): void;
}

let addon: InvalidateAddon | undefined;
/** Loaded once per thread that uses it; the thread it runs is one per process. */
function invalidateAddon(): InvalidateAddon {
  // createRequire loads a .node file with process.dlopen, as for any addon.
  return (addon ??= createRequire(import.meta.url)(INVALIDATE_ADDON) as InvalidateAddon);
}

/**
 * Starts the thread on the per-container tree's connection `fd`. The buffers must stay referenced
 * (by the caller) for the process's life: the thread works on their memory. It counts each
 * invalidation in `stats` (stats.ts).
 */
export function startInvalidationThread(fd: number, buffers: InvalidationBuffers, stats: SharedArrayBuffer): void {
  invalidateAddon().start(fd, ...invalidationArrays(buffers), statCell(stats, "invalidations"));
}

/** Wakes the thread (a file is due before the time it sleeps until); nothing before it started. */
export function wakeInvalidationThread(): void {
  invalidateAddon().wake();
}

/** Ends the thread and waits for it (tests: a process has one at a time). */
export function stopInvalidationThread(): void {
  invalidateAddon().stop();
}
