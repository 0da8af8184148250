// procview's own service on a temp (or given) mountpoint: `node dist/cli/procview.js serve
// --mountpoint <dir> --foreground` serves the LXCFS layout at <dir> until SIGTERM.
import { access } from "node:fs/promises";
import { startFuseServer, type RunningServer } from "./fuse-server.js";
import { CLI_ENTRY } from "../core/paths.js";

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
  return startFuseServer({
    name: "procview",
    mountPoint: options.mountPoint,
    command: (mountPoint) => [
      process.execPath,
      [...(options.nodeOptions ?? []), PROCVIEW_CLI, "serve", "--mountpoint", mountPoint, "--foreground", ...(options.extraArgs ?? [])],
    ],
    env: options.env,
    timeoutMs: 15_000,
  });
}
