// `procview serve --foreground` becomes the keeper: its flags are parsed and checked here, in
// TypeScript, and then this process is replaced (execve, same pid) by the native keeper
// (fuse/keeper/native), which mounts, supervises the serving processes and answers on its
// control socket. The pid that systemd, a container runtime or a test started stays the one
// owning the mount; no Node process is left waiting beside it.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { ServingConfigSchema, type ServingConfig } from "./messages.js";
import { EXEC_ADDON, INVALIDATE_ADDON, KEEPER_PROGRAM, SERVING_ENTRY, keeperSocketPath, statusPath } from "../../core/paths.js";

export interface KeeperLaunch {
  mountPoint: string;
  runtimeDir: string;
  /** Removed by the keeper when it stops (the serving process listens there). */
  hookSocket: string | null;
  /** Replace a serving process that leaves a request unanswered this long; 0: never. */
  watchdogMs: number;
  /** Keep a standby serving process, started ahead, for takeovers in milliseconds. */
  standby: boolean;
  /** The mountpoint is served by a live procview keeper: have it hand over when it stops. */
  takeOver: boolean;
  serving: ServingConfig;
}

export function keeperArgv(launch: KeeperLaunch): string[] {
  const { mountPoint, runtimeDir } = launch;
  const serving = ServingConfigSchema.parse(launch.serving);
  return [
    KEEPER_PROGRAM,
    "--mountpoint",
    mountPoint,
    "--control-socket",
    keeperSocketPath(mountPoint, runtimeDir),
    "--status-file",
    statusPath(mountPoint, runtimeDir),
    ...(launch.hookSocket ? ["--hook-socket", launch.hookSocket] : []),
    "--watchdog-ms",
    String(launch.watchdogMs),
    ...(launch.standby ? [] : ["--no-standby"]),
    ...(launch.takeOver ? ["--take-over"] : []),
    "--",
    process.execPath,
    ...process.execArgv,
    // Requests allocate little and briefly; V8 would otherwise grow each isolate's young
    // generation (main thread and every serving thread) to 16 MiB semi-spaces under load and
    // keep them. 1 MiB keeps scavenges short and the serving process ~35 MiB smaller after the
    // bench's 500-cgroup run.
    "--max-semi-space-size=1",
    SERVING_ENTRY,
    JSON.stringify(serving),
  ];
}

interface ExecAddon {
  execve(file: string, argv: string[]): never;
}

/** Replaces this process with the keeper; returns only by throwing. */
export function becomeKeeper(launch: KeeperLaunch): never {
  for (const built of [KEEPER_PROGRAM, EXEC_ADDON, INVALIDATE_ADDON])
    if (!existsSync(built)) throw new Error(`${built} does not exist: build procview first (npm run build)`);
  const argv = keeperArgv(launch);
  // createRequire loads a .node file with process.dlopen, as for any addon.
  const addon = createRequire(import.meta.url)(EXEC_ADDON) as ExecAddon;
  return addon.execve(argv[0]!, argv);
}
