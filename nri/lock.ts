// One procview NRI plugin per runtime. Two registered at once would both add the same bind
// mounts, and NRI refuses to create any container two plugins add the same mount to ("plugins
// … both tried to set mount …"): during a Kubernetes rolling update, where the new procview pod
// starts before the old one stops, every container created in between would fail. So an
// external plugin first takes an exclusive flock(2) on a file named after the runtime's NRI
// socket, in procview's runtime directory on the host, and holds it for as long as it lives;
// the plugin of a new pod waits there until the one it replaces has gone. The kernel drops the
// lock when that process ends, however it ends (SIGKILL and OOM included): nothing is left to
// go stale. Node has no flock, hence the small addon (nri/native/procview-flock.c).
import { chmodSync, constants, mkdirSync, openSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FLOCK_ADDON } from "../core/paths.js";

interface FlockAddon {
  tryLock(fd: number): boolean;
}

/** How often a waiting plugin tries again: the gap between two plugins is at most this. */
export const LOCK_POLL_MS = 20;

/**
 * Opens (creating it, 0600, in a 0700 directory) and locks `file`, waiting while another
 * process holds it. Resolves true once held (for the rest of this process's life: the
 * descriptor is never closed), false if `signal` aborts first.
 */
export async function holdPluginLock(file: string, signal: AbortSignal, log: (line: string) => void): Promise<boolean> {
  const addon = createRequire(import.meta.url)(FLOCK_ADDON) as FlockAddon;
  const dir = path.dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  // O_NOFOLLOW: the directory is root's alone, but a lock is never taken through a symlink.
  const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  if (addon.tryLock(fd)) return true;
  const started = Date.now();
  log(`another procview NRI plugin for this runtime holds ${file} (the pod this one replaces?): waiting for it to stop`);
  while (!signal.aborted) {
    await sleep(LOCK_POLL_MS, undefined, { signal }).catch(() => undefined);
    if (!signal.aborted && addon.tryLock(fd)) {
      log(`took ${file} after ${Date.now() - started} ms: the other plugin has stopped`);
      return true;
    }
  }
  return false;
}
