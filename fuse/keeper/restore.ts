// After a full restart, running containers still hold bind mounts of the previous FUSE
// connection, which is dead: every read fails with ENOTCONN until the container is recreated.
// This finds those mounts in every other mount namespace and replaces each with the same file
// of the new mount, through the native helper (open_tree + setns + move_mount): the container
// ends up with exactly the mounts it had, now alive, and nothing else.
//
// Only this instance's own views. Each FUSE connection has a device number of its own (mountinfo's
// field 3), kept for as long as any mount of it exists, dead or alive. Every instance records the
// devices it serves (core/paths.ts connectionsPath: per mountpoint and runtime directory, root's),
// and a fresh start brings back only dead mounts of the devices its predecessor recorded: another
// instance on the machine (another mountpoint, a test's, a second pod's) never takes, or breaks,
// the views of this one, nor this one theirs.
import { existsSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { FSTYPE } from "../kernel/mount.js";
import { ownMounts, parseMountinfo } from "../../core/mountinfo.js";
import { CONTAINER_ID, VIEW_PATHS } from "../../core/layout.js";
import { NSMOUNT_HELPER } from "../../core/paths.js";

const SERVED = new Set(Object.values(VIEW_PATHS).map((p) => `/${p}`));

/** A mount root of one of our files: /proc/meminfo, or a container's copy /containers/<id>/proc/meminfo. */
export function isServedFile(root: string): boolean {
  const own = /^\/containers\/([^/]+)(\/.+)$/.exec(root);
  return own ? CONTAINER_ID.test(own[1]!) && SERVED.has(own[2]!) : SERVED.has(root);
}

export interface DeadView {
  /** One process of the mount namespace holding the dead mount. */
  pid: number;
  /** Where it is mounted, as that namespace sees it. */
  target: string;
  /** Which served file it was, e.g. "/proc/meminfo" or "/containers/<id>/proc/meminfo". */
  file: string;
}

export interface RestoreOptions {
  mountPoint: string;
  /** The record of this instance's connections (core/paths.ts connectionsPath). */
  connections: string;
  procRoot?: string;
  log: (line: string) => void;
}

function isDead(procRoot: string, pid: number, target: string): boolean {
  try {
    statSync(path.join(procRoot, String(pid), "root", target));
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOTCONN";
  }
}

/** Mounts of procview files, in namespaces other than ours, whose connection is dead; with
 * `devices`, only mounts of those connections. */
export function findDeadViews(procRoot = "/proc", devices?: ReadonlySet<string>): DeadView[] {
  const ownNs = readlinkSync(path.join(procRoot, "self/ns/mnt"));
  const seen = new Set<string>([ownNs]);
  const dead: DeadView[] = [];
  for (const name of readdirSync(procRoot)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    let ns: string;
    let mountinfo: string;
    try {
      ns = readlinkSync(path.join(procRoot, name, "ns/mnt"));
      if (seen.has(ns)) continue;
      seen.add(ns);
      mountinfo = readFileSync(path.join(procRoot, name, "mountinfo"), "utf8");
    } catch {
      continue; // gone meanwhile, or a kernel thread
    }
    for (const entry of parseMountinfo(mountinfo)) {
      if (entry.fstype !== FSTYPE || !isServedFile(entry.root)) continue;
      if (devices !== undefined && !devices.has(entry.device)) continue;
      if (isDead(procRoot, pid, entry.mountPoint)) dead.push({ pid, target: entry.mountPoint, file: entry.root });
    }
  }
  return dead;
}

/** The devices a predecessor recorded; none when there is no record (a first start). */
export function recordedDevices(record: string): Set<string> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(record, "utf8"));
    const devices = (parsed as { devices?: unknown }).devices;
    return new Set(Array.isArray(devices) ? devices.filter((d): d is string => typeof d === "string" && /^\d+:\d+$/.test(d)) : []);
  } catch {
    return new Set();
  }
}

/** Records the devices of the procview connections mounted at `mountPoint` (as this process
 * sees them), replacing the record atomically; root-only. */
export function recordConnections(mountPoint: string, record: string): void {
  const devices = [
    ...new Set(
      ownMounts()
        .filter((m) => m.fstype === FSTYPE && m.mountPoint === mountPoint)
        .map((m) => m.device),
    ),
  ];
  const pending = `${record}.tmp`;
  writeFileSync(pending, `${JSON.stringify({ mountPoint, devices })}\n`, { mode: 0o600 });
  renameSync(pending, record);
}

/** Replaces every dead view of the connections this mountpoint's predecessor served with the
 * live file of `mountPoint`, after recording the connection served now; returns how many were
 * restored. */
export async function restoreDeadViews(options: RestoreOptions): Promise<number> {
  const { mountPoint, log } = options;
  const devices = recordedDevices(options.connections);
  recordConnections(mountPoint, options.connections);
  const dead = findDeadViews(options.procRoot, devices);
  if (dead.length === 0) return 0;
  if (!existsSync(NSMOUNT_HELPER)) {
    log(`${dead.length} dead views in running containers, but ${NSMOUNT_HELPER} is not built (npm run build): they stay dead`);
    return 0;
  }
  const byPid = new Map<number, DeadView[]>();
  for (const view of dead) byPid.set(view.pid, [...(byPid.get(view.pid) ?? []), view]);
  let restored = 0;
  for (const [pid, views] of byPid) {
    const args = ["replace", String(pid), ...views.flatMap((v) => [path.join(mountPoint, v.file), v.target])];
    const result = await execa(NSMOUNT_HELPER, args, { reject: false, timeout: 10_000 });
    for (const line of result.stdout.split("\n").filter(Boolean)) {
      if (line.startsWith("ok ")) restored++;
      else log(`restoring views of pid ${pid}: ${line}`);
    }
    if (result.exitCode === 2) log(`restoring views of pid ${pid} failed: ${result.stderr.trim()}`);
  }
  log(`brought back ${restored} of ${dead.length} dead views in ${byPid.size} running containers`);
  return restored;
}
