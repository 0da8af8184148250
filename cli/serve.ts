// `procview serve`: mount the views and serve them until stopped.
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { MountError } from "../fuse/kernel/mount.js";
import { becomeKeeper } from "../fuse/keeper/launch.js";
import { SERVING_FUSE_FD } from "../fuse/keeper/messages.js";
import { keeperStatus } from "../fuse/keeper/control.js";
import { mountsAt } from "../core/mountinfo.js";
import { addShareOptions, shareLimitsOf, type ShareFlags } from "./share-flags.js";
import { privateCgroupNamespace } from "../fuse/cgroup/process.js";
import {
  connectionsPath,
  DEFAULT_RUNTIME_DIR,
  fitsSocketPath,
  hookSocketPath,
  keeperSocketPath,
  SOCKET_PATH_MAX_BYTES,
  DEFAULT_MOUNTPOINT,
  DEFAULT_LOG_FILE,
} from "../core/paths.js";

interface ServeFlags extends ShareFlags {
  mountpoint: string;
  cgroupRoot: string;
  procRoot: string;
  sysRoot: string;
  cpuQuota: boolean;
  foreground: boolean;
  threads: number;
  cacheMs: number;
  loadIntervalMs: number;
  logFile: string;
  runtimeDir: string;
  /** false: --no-hook-socket. */
  hookSocket: string | boolean;
  watchdogMs: number;
  /** false: --no-standby. */
  standby: boolean;
  takeOver: boolean;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
}

const log = (line: string): void => {
  process.stderr.write(`procview[${process.pid}] ${line}\n`);
};

/**
 * The hook socket's path, the same check for a path given and for the default one: the serving
 * process refuses a config whose path cannot be a unix socket. One given is an error; a default
 * made too long by --runtime-dir or the mountpoint means no socket (hooks run the Node hook).
 */
function hookSocketOf(flags: ServeFlags): string | null {
  if (flags.hookSocket === false) return null;
  const given = typeof flags.hookSocket === "string";
  const path =
    typeof flags.hookSocket === "string" ? resolve(flags.hookSocket) : hookSocketPath(resolve(flags.mountpoint), flags.runtimeDir);
  if (fitsSocketPath(path)) return path;
  const why = `${path} is too long for a unix socket path (${SOCKET_PATH_MAX_BYTES} bytes, with the ".<pid>.tmp" it is made under)`;
  if (given) throw new InvalidArgumentError(`--hook-socket: ${why}`);
  log(`no hook socket: ${why}; pass --hook-socket (container starts run the Node hook meanwhile)`);
  return null;
}

function runForeground(flags: ServeFlags, hookSocket: string | null): never {
  const mountPoint = resolve(flags.mountpoint);
  const cgroupNs = privateCgroupNamespace(flags.procRoot);
  if (cgroupNs !== null) log(cgroupNs);
  return becomeKeeper({
    mountPoint,
    runtimeDir: flags.runtimeDir,
    hookSocket,
    watchdogMs: flags.watchdogMs,
    standby: flags.standby,
    takeOver: flags.takeOver,
    serving: {
      fd: SERVING_FUSE_FD,
      render: {
        procRoot: flags.procRoot,
        sysRoot: flags.sysRoot,
        cgroupRoot: flags.cgroupRoot,
        useCpuQuota: flags.cpuQuota,
        cacheMs: flags.cacheMs,
      },
      threads: flags.threads,
      loadIntervalSeconds: flags.loadIntervalMs / 1000,
      mountPoint,
      hookSocket,
      connections: connectionsPath(mountPoint, flags.runtimeDir),
      share: shareLimitsOf(flags),
    },
  });
}

/** Starts a detached `serve --foreground` and returns once its mount answers. */
async function runInBackground(flags: ServeFlags, argv: string[]): Promise<void> {
  const mountPoint = resolve(flags.mountpoint);
  const logFd = openSync(flags.logFile, "a");
  const child = spawn(process.execPath, [...process.execArgv, argv[1]!, ...argv.slice(2), "--foreground"], {
    detached: true,
    stdio: ["ignore", logFd, logFd],
  });
  closeSync(logFd);
  let exited = null as number | null;
  child.on("exit", (code) => (exited = code ?? 1));
  for (let waited = 0; waited < 10_000; waited += 50) {
    if (exited !== null) {
      const lines = readFileSync(flags.logFile, "utf8").trimEnd().split("\n");
      throw new MountError(`serve exited (${exited}): ${lines[lines.length - 1] ?? "see " + flags.logFile}`);
    }
    if (flags.takeOver) {
      // The mount is there already: done once the keeper serving it knows we wait for it.
      const status = await keeperStatus(mountPoint, flags.runtimeDir).catch(() => null);
      if (status?.successorWaiting) {
        child.unref();
        process.stdout.write(
          `procview keeper ${child.pid} takes ${mountPoint} over when keeper ${status.keeperPid} stops (log ${flags.logFile})\n`,
        );
        return;
      }
    } else if (mountsAt(mountPoint).some((m) => m.fstype === "fuse.procview")) {
      child.unref();
      process.stdout.write(`procview serving ${mountPoint} (pid ${child.pid}, log ${flags.logFile})\n`);
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new MountError(`serve did not mount ${mountPoint} within 10 s; see ${flags.logFile}`);
}

export function registerServeCommand(program: Command): void {
  const serve = program
    .command("serve")
    .description(
      "mount the per-container /proc and /sys views and serve them. A small native keeper process owns the mount and " +
        "its /dev/fuse descriptor; a serving process it supervises answers reads, and a standby started ahead takes over " +
        "within milliseconds if it dies or stops answering (SIGHUP or `procview reload` replaces it with the code " +
        "installed now), so containers never lose their views",
    )
    .option(
      "--mountpoint <dir>",
      "where to mount the LXCFS-layout tree (proc/meminfo, sys/devices/system/cpu/online, …)",
      DEFAULT_MOUNTPOINT,
    )
    .option(
      "--cgroup-root <dir>",
      "where the cgroup hierarchies are mounted (v1 controllers as subdirectories, or cgroup2)",
      "/sys/fs/cgroup",
    )
    .addOption(new Option("--proc-root <dir>", "procfs to read processes and host files from (for tests)").default("/proc").hideHelp())
    .addOption(new Option("--sys-root <dir>", "sysfs to read the host's CPU list from (for tests)").default("/sys").hideHelp())
    .option(
      "--no-cpu-quota",
      "show the whole cpuset even when a CFS quota allows fewer CPUs (by default the CPUs shown are cut to ceil(quota/period))",
    )
    .option("--foreground", "stay in the foreground and log to stderr (default: start in the background, return once mounted)", false)
    .option(
      "--threads <n>",
      "serving threads, each keeping a read outstanding on /dev/fuse",
      positiveInteger,
      Math.min(4, Math.max(2, cpus().length)),
    )
    .option("--cache-ms <ms>", "how long one container's cgroup numbers are reused between reads", positiveInteger, 100)
    .addOption(
      new Option("--load-interval-ms <ms>", "time between load samples, each one of the kernel's 5-second steps (for tests)")
        .argParser(positiveInteger)
        .default(5000)
        .hideHelp(),
    )
    .option("--log-file <file>", "where a background server logs", DEFAULT_LOG_FILE)
    .option(
      "--runtime-dir <dir>",
      "where the keeper's control socket (status, reload, handoff), its status file and the hook socket are",
      DEFAULT_RUNTIME_DIR,
    )
    .option(
      "--hook-socket <path>",
      "the unix socket on which procview-hook has the serving process run the OCI hook (default: <runtime-dir>/hook/<mountpoint>.sock, in a directory only root may enter)",
    )
    .option("--no-hook-socket", "do not listen for procview-hook: every container start runs the Node hook")
    .option(
      "--watchdog-ms <ms>",
      "replace a serving process that leaves a request unanswered this long (stopped, deadlocked, stuck in a cgroupfs read); readers only wait. 0: never",
      positiveInteger,
      500,
    )
    .option(
      "--no-standby",
      "do not keep a standby serving process started ahead: saves its memory (`procview status`), but a serving process that dies or hangs is replaced in the time a Node process takes to start (0.5-2 s) instead of milliseconds",
    )
    .option(
      "--take-over",
      "the mountpoint is served by a running procview (same --runtime-dir): wait, and when its keeper is stopped it hands the mount over to this one instead of unmounting, so no reader notices (an upgrade of the keeper itself, a Kubernetes rolling update)",
      false,
    );
  addShareOptions(serve).action(async (flags: ServeFlags) => {
    if (flags.threads < 1) throw new InvalidArgumentError("--threads must be at least 1");
    if (flags.loadIntervalMs < 1) throw new InvalidArgumentError("--load-interval-ms must be at least 1");
    // Before going to the background: bad flags are the caller's error to see. The keeper's
    // socket first: without it there is no status, reload or handoff.
    const control = keeperSocketPath(resolve(flags.mountpoint), flags.runtimeDir);
    if (!fitsSocketPath(control))
      throw new InvalidArgumentError(`--runtime-dir: the keeper's socket ${control} is too long for a unix socket path`);
    const hookSocket = hookSocketOf(flags);
    if (flags.foreground) runForeground(flags, hookSocket);
    else await runInBackground(flags, process.argv);
  });
}
