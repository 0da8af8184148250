// Debian's lxcfs (5.0.x) in the foreground on a temp mountpoint, as an
// LXCFS-layout source for the hook. --enable-cfs makes cpuinfo/online follow
// CPU quotas (--cpus), -l virtualises loadavg; without --enable-cfs lxcfs
// only honours cpusets.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { startFuseServer, type RunningServer } from "./fuse-server.js";

export type RunningLxcfs = RunningServer;

export function startLxcfs(): Promise<RunningLxcfs> {
  return startFuseServer({
    name: "lxcfs",
    command: (mountPoint, base) => ["lxcfs", ["-f", "--enable-cfs", "-l", "-p", path.join(base, "lxcfs.pid"), mountPoint]],
    timeoutMs: 10_000,
  });
}

export async function hostMemTotalKb(): Promise<number> {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(await readFile("/proc/meminfo", "utf8"));
  if (!m) throw new Error("no MemTotal in /proc/meminfo");
  return Number(m[1]);
}
