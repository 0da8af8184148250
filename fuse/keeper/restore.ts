// After a full restart, running containers still hold bind mounts of the previous FUSE
// connections, which are dead: every read fails with ENOTCONN until the container is recreated.
// This finds those mounts in every other mount namespace and replaces each with the same file
// of the new mount, through the native helper (open_tree + setns + move_mount): the container
// ends up with exactly the mounts it had, now alive, and nothing else. A container's own copy
// (containers/<id>/…) keeps showing that container: the registry (core/registry.ts) outlives
// the restart.
//
// Only this instance's own views: the devices (major:minor) of the connections each instance
// serves are recorded in its registry directory (root's, under the runtime directory), and only
// dead mounts of the devices its predecessor recorded, on the same mountpoint and runtime
// directory, are brought back; another instance's (another mountpoint or runtime directory) are
// left alone. A connection keeps its device for as long as any mount of it exists, dead or not.
// Ids are never registered from what a namespace shows: a container's own copy comes back only
// if the registry holds its record.
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { FSTYPE } from "../kernel/mount.js";
import { ownMounts, parseMountinfo } from "../../core/mountinfo.js";
import { CONTAINERS_DIR, CONTAINERS_SOURCE, CONTAINER_ID, VIEW_PATHS } from "../../core/layout.js";
import { NSMOUNT_HELPER } from "../../core/paths.js";
import { registration } from "../../core/registry.js";
import { errorMessage } from "../../core/errors.js";

const SERVED = new Set(Object.values(VIEW_PATHS).map((p) => `/${p}`));

/**
 * The served file a mount's root is, as a path under the mountpoint (/proc/meminfo,
 * /containers/<id>/proc/meminfo), and the container id of a container's copy; null when it is
 * none of ours. The per-container tree's own mount shows its files from its root (/<id>/…).
 */
export function servedFile(root: string, source: string): { file: string; id?: string } | null {
  const own = (source === CONTAINERS_SOURCE ? /^\/([^/]+)(\/.+)$/ : /^\/containers\/([^/]+)(\/.+)$/).exec(root);
  if (own)
    return CONTAINER_ID.test(own[1]!) && SERVED.has(own[2]!) ? { file: `/${CONTAINERS_DIR}/${own[1]!}${own[2]!}`, id: own[1]! } : null;
  return source !== CONTAINERS_SOURCE && SERVED.has(root) ? { file: root } : null;
}

export interface DeadView {
  /** One process of the mount namespace holding the dead mount. */
  pid: number;
  /** That namespace's inode: the helper checks that the pid is still in it. */
  nsInode: number;
  /** Where it is mounted, as that namespace sees it. */
  target: string;
  /** Which served file it was, e.g. "/proc/meminfo" or "/containers/<id>/proc/meminfo". */
  file: string;
  /** The container of a container's copy. */
  id?: string;
}

export interface RestoreOptions {
  mountPoint: string;
  /** Where containers are registered (core/registry.ts), and where this instance's connections
   * are recorded; without it, every dead view found is brought back. */
  registry?: string;
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
      if (entry.fstype !== FSTYPE || (devices !== undefined && !devices.has(entry.device))) continue;
      const served = servedFile(entry.root, entry.source);
      const nsInode = Number(/^mnt:\[(\d+)\]$/.exec(ns)?.[1] ?? 0);
      if (served !== null && isDead(procRoot, pid, entry.mountPoint)) dead.push({ pid, nsInode, target: entry.mountPoint, ...served });
    }
  }
  return dead;
}

/** The record of the connections an instance serves, in its registry directory. */
export function connectionsRecord(registry: string): string {
  return path.join(registry, ".connections");
}

/** The devices the predecessor on this mountpoint recorded; null when there is no record. */
export function recordedDevices(registry: string): Set<string> | null {
  try {
    const parsed: unknown = JSON.parse(readFileSync(connectionsRecord(registry), "utf8"));
    const devices = (parsed as { devices?: unknown }).devices;
    return Array.isArray(devices) ? new Set(devices.filter((d): d is string => typeof d === "string" && /^\d+:\d+$/.test(d))) : null;
  } catch {
    return null;
  }
}

/** Records the devices of the connections mounted at `mountPoint` and below it (the per-container tree). */
export function recordConnections(mountPoint: string, registry: string): void {
  const devices = ownMounts()
    .filter((m) => m.fstype === FSTYPE && (m.mountPoint === mountPoint || m.mountPoint === path.join(mountPoint, CONTAINERS_DIR)))
    .map((m) => m.device);
  mkdirSync(registry, { recursive: true, mode: 0o755 });
  const file = connectionsRecord(registry);
  writeFileSync(`${file}.tmp`, JSON.stringify({ mountPoint, devices: [...new Set(devices)] }) + "\n", { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Replaces every dead view of this mountpoint's previous connections with the live file of
 * `mountPoint`, and records the connections served now; returns how many were restored. */
export async function restoreDeadViews(options: RestoreOptions): Promise<number> {
  const { mountPoint, log } = options;
  let devices: Set<string> | undefined;
  if (options.registry !== undefined) {
    devices = recordedDevices(options.registry) ?? new Set();
    recordConnections(mountPoint, options.registry);
  }
  const dead = findDeadViews(options.procRoot, devices);
  if (dead.length === 0) return 0;
  if (!existsSync(NSMOUNT_HELPER)) {
    log(`${dead.length} dead views in running containers, but ${NSMOUNT_HELPER} is not built (npm run build): they stay dead`);
    return 0;
  }
  const byPid = new Map<number, DeadView[]>();
  for (const view of dead) byPid.set(view.pid, [...(byPid.get(view.pid) ?? []), view]);
  if (options.registry !== undefined) reportUnregistered(options.registry, dead, log);
  let restored = 0;
  for (const [pid, views] of byPid) {
    const args = ["replace", `${pid}:${views[0]!.nsInode}`, ...views.flatMap((v) => [path.join(mountPoint, v.file), v.target])];
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

/** A container's own copy whose id the registry has no record of comes back unanswered (ENOENT):
 * an id is never registered from what a namespace shows, since any process may sit in one. */
function reportUnregistered(registry: string, dead: readonly DeadView[], log: (line: string) => void): void {
  const ids = new Set(dead.flatMap((view) => (view.id === undefined ? [] : [view.id])));
  for (const id of ids) {
    try {
      if (registration(registry, id) === null)
        log(`container ${id} is not registered: its own files come back without a container to show`);
    } catch (err) {
      log(`reading the registration of container ${id} failed: ${errorMessage(err)}`);
    }
  }
}
