// procview's own service on a temp (or given) mountpoint: `node dist/cli/procview.js serve
// --mountpoint <dir> --foreground` serves the LXCFS layout at <dir> until SIGTERM.
import { access } from "node:fs/promises";
import { readFileSync, rmSync } from "node:fs";
import { startFuseServer, type RunningServer } from "./fuse-server.js";
import { keeperStatus } from "../fuse/keeper/control.js";
import { waitFor } from "./wait.js";
import { CLI_ENTRY, connectionsPath, DEFAULT_RUNTIME_DIR } from "../core/paths.js";

// Compiled to dist/test/support/procview.js.
export const PROCVIEW_CLI = CLI_ENTRY;

/** `pid` is the keeper: the `procview serve` process itself. */
export type RunningProcview = RunningServer;

export interface StartOptions {
  /** A fixed mountpoint (kept on stop), e.g. to start procview again on the same place. */
  mountPoint?: string;
  /** More `procview serve` flags. */
  extraArgs?: string[];
  /** Options for node itself (e.g. --import a test module); the keeper passes them on to its serving processes. */
  nodeOptions?: string[];
  /** More environment. */
  env?: Record<string, string>;
}

export async function startProcview(options: StartOptions = {}): Promise<RunningProcview> {
  await access(PROCVIEW_CLI).catch(() => {
    throw new Error(`${PROCVIEW_CLI} does not exist (the procview service has not been built)`);
  });
  const server = await startFuseServer({
    name: "procview",
    mountPoint: options.mountPoint,
    command: (mountPoint) => [
      process.execPath,
      [...(options.nodeOptions ?? []), PROCVIEW_CLI, "serve", "--mountpoint", mountPoint, "--foreground", ...(options.extraArgs ?? [])],
    ],
    env: options.env,
    timeoutMs: 15_000,
  });
  // The record of a temp mountpoint's connections goes with it (a fixed mountpoint keeps it, so
  // that procview started there again brings back the views of its predecessor).
  if (options.mountPoint !== undefined) return server;
  const stop = server.stop.bind(server);
  return { ...server, stop: () => stop().finally(() => rmSync(connectionsPath(server.mountPoint), { force: true })) };
}

/** The serving process of the procview mounted at `mountPoint` (the one answering requests, not
 * the standby), as its keeper says on its control socket: the keeper's own command line and the
 * standby's carry the same config, so no scan of /proc can tell them apart. Waits while none
 * serves (one is being activated), or while the one serving is `besides`. */
export function servingPid(mountPoint: string, options: { runtimeDir?: string; besides?: number } = {}): Promise<number> {
  const runtimeDir = options.runtimeDir ?? DEFAULT_RUNTIME_DIR;
  return waitFor(options.besides === undefined ? "a serving process" : `a serving process other than ${options.besides}`, async () => {
    const pid = (await keeperStatus(mountPoint, runtimeDir)).servingPid;
    return pid !== options.besides && pid;
  });
}

/** Resident memory of a process in KiB (VmRSS), or 0 when it is gone. */
export function residentKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}
