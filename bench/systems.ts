// The three things being read: procview's mount, Debian's lxcfs mount (both
// started through test/support), and the kernel's own files.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { readStatus, type KeeperStatus } from "../fuse/keeper/status.js";
import { keeperStatus } from "../fuse/keeper/control.js";
import { execa } from "execa";
import { startLxcfs } from "../testbed/lxcfs.js";
import { startProcview } from "../testbed/procview.js";
import type { SystemName } from "./results.js";
import { DEFAULT_RUNTIME_DIR, statusPath } from "../core/paths.js";
import { type ViewFile } from "../core/layout.js";
import { mountsAt, parseMountinfo } from "../core/mountinfo.js";

export interface ReadTarget {
  name: SystemName;
  /** Absolute path of a view file as this system serves it. */
  path(file: ViewFile): string;
  /** Where the system is mounted ("/" for the kernel's own files). */
  root: string;
  /** The serving process (undefined for the kernel). */
  pid?: number;
  /** Every process that serves the mount (procview: keeper, serving process, standby), read afresh. */
  pids: () => number[];
  /** procview's processes by role, read afresh from its status file. */
  processes?: () => Array<{ role: "keeper" | "serving" | "standby"; pid: number }>;
  /** procview's keeper, asked over its control socket. */
  keeper?: () => Promise<KeeperStatus | null>;
  /** What the service printed so far (procview: its keeper's and serving processes' log). */
  output?: () => string;
  alive(): boolean;
  stop(): Promise<void>;
}

export const kernel: ReadTarget = {
  name: "kernel",
  path: (file) => "/" + file,
  root: "/",
  pids: () => [],
  alive: () => true,
  stop: () => Promise.resolve(),
};

/** The pid of the first process whose argv satisfies `matches`, or undefined. */
export async function findPid(matches: (argv: string[]) => boolean): Promise<number | undefined> {
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const raw = await readFile(join("/proc", entry, "cmdline"), "utf8").catch(() => "");
    if (raw === "") continue;
    const argv = raw.split("\0").filter((a, i, all) => !(a === "" && i === all.length - 1));
    if (matches(argv)) return Number(entry);
  }
  return undefined;
}

/**
 * Stops a server, then lazily unmounts its mountpoint if it is still listed: when the server
 * died first, `mountpoint -q` (used by test/support/fuse-wait.ts) fails with ENOTCONN on the
 * dead mount and the support code leaves it behind.
 */
async function stopAndUnmount(stop: () => Promise<void>, mountPoint: string): Promise<void> {
  try {
    await stop();
  } finally {
    const mounted = mountsAt(mountPoint, parseMountinfo(await readFile("/proc/self/mountinfo", "utf8"))).length > 0;
    if (mounted) {
      await execa("umount", ["-l", mountPoint], { reject: false, timeout: 5000 });
      await execa("rmdir", [mountPoint, dirname(mountPoint)], { reject: false, timeout: 5000 });
    }
  }
}

/** `extraArgs`: more `procview serve` options, for experiments (e.g. a longer --cache-ms). */
export async function startProcviewTarget(extraArgs: string[] = []): Promise<ReadTarget> {
  const running = await startProcview({ extraArgs });
  // procview's processes: the keeper (the `serve` process, which became the native keeper),
  // the serving process it supervises and the standby, which can change; all count, read
  // afresh each time (the keeper writes its status file at once when they change).
  const processes = () => {
    const status = readStatus(statusPath(running.mountPoint, DEFAULT_RUNTIME_DIR));
    return [
      { role: "keeper" as const, pid: running.pid },
      ...(status?.servingPid ? [{ role: "serving" as const, pid: status.servingPid }] : []),
      ...(status?.standbyPid ? [{ role: "standby" as const, pid: status.standbyPid }] : []),
    ];
  };
  return {
    name: "procview",
    path: (file) => join(running.mountPoint, file),
    root: running.mountPoint,
    pid: running.pid,
    pids: () => processes().map((p) => p.pid),
    processes,
    keeper: () => keeperStatus(running.mountPoint, DEFAULT_RUNTIME_DIR),
    output: () => running.output(),
    alive: () => running.alive(),
    stop: () => stopAndUnmount(() => running.stop(), running.mountPoint),
  };
}

export async function startLxcfsTarget(): Promise<ReadTarget> {
  const running = await startLxcfs();
  const pid = await findPid((argv) => (argv[0] ?? "").endsWith("lxcfs") && argv.includes(running.mountPoint));
  return {
    name: "lxcfs",
    path: (file) => join(running.mountPoint, file),
    root: running.mountPoint,
    pid,
    pids: () => (pid === undefined ? [] : [pid]),
    alive: () => running.alive(),
    stop: () => stopAndUnmount(() => running.stop(), running.mountPoint),
  };
}
