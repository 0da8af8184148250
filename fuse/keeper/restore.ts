// After a full restart, running containers still hold bind mounts of the previous FUSE
// connections, which are dead: every read fails with ENOTCONN until the container is recreated.
// This finds those mounts in every other mount namespace and replaces each with the same file
// of the new mount, through the native helper (open_tree + setns + move_mount): the container
// ends up with exactly the mounts it had, now alive, and nothing else. A container's own copy
// (containers/<id>/…) is registered again if it is not (core/registry.ts), from a process of the
// namespace, so that it keeps showing that container.
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { FSTYPE } from "../kernel/mount.js";
import { parseMountinfo } from "../../core/mountinfo.js";
import { CONTAINERS_DIR, CONTAINERS_SOURCE, CONTAINER_ID, VIEW_PATHS } from "../../core/layout.js";
import { NSMOUNT_HELPER } from "../../core/paths.js";
import { register, registration } from "../../core/registry.js";
import { readPidNs, readStat } from "../cgroup/process.js";
import { findNsInit } from "../cgroup/caller.js";
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
  /** Where it is mounted, as that namespace sees it. */
  target: string;
  /** Which served file it was, e.g. "/proc/meminfo" or "/containers/<id>/proc/meminfo". */
  file: string;
  /** The container of a container's copy. */
  id?: string;
}

export interface RestoreOptions {
  mountPoint: string;
  /** Where containers are registered (core/registry.ts). */
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

/** Mounts of procview files, in namespaces other than ours, whose connection is dead. */
export function findDeadViews(procRoot = "/proc"): DeadView[] {
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
      if (entry.fstype !== FSTYPE) continue;
      const served = servedFile(entry.root, entry.source);
      if (served !== null && isDead(procRoot, pid, entry.mountPoint)) dead.push({ pid, target: entry.mountPoint, ...served });
    }
  }
  return dead;
}

/** Replaces every dead view with the live file of `mountPoint`; returns how many were restored. */
export async function restoreDeadViews(options: RestoreOptions): Promise<number> {
  const { mountPoint, log } = options;
  const dead = findDeadViews(options.procRoot);
  if (dead.length === 0) return 0;
  if (!existsSync(NSMOUNT_HELPER)) {
    log(`${dead.length} dead views in running containers, but ${NSMOUNT_HELPER} is not built (npm run build): they stay dead`);
    return 0;
  }
  const byPid = new Map<number, DeadView[]>();
  for (const view of dead) byPid.set(view.pid, [...(byPid.get(view.pid) ?? []), view]);
  if (options.registry !== undefined) registerAgain(options.registry, dead, options.procRoot ?? "/proc", log);
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

/** Containers whose own copies are bound and not registered (bound before procview kept a
 * registry, or the registry was lost) are registered from a process of their namespace. */
function registerAgain(registry: string, dead: readonly DeadView[], procRoot: string, log: (line: string) => void): void {
  const done = new Set<string>();
  for (const view of dead) {
    if (view.id === undefined || done.has(view.id)) continue;
    done.add(view.id);
    try {
      if (registration(registry, view.id) !== null) continue;
      // The init of its pid namespace lives as long as the container (in the host's, the process itself).
      const pidNs = readPidNs(procRoot, view.pid);
      const init = pidNs === null ? null : pidNs === readPidNs(procRoot, "self") ? view.pid : findNsInit(procRoot, view.pid, pidNs);
      const stat = init === null ? null : readStat(procRoot, init);
      if (init !== null && stat !== null)
        register(registry, { id: view.id, pid: init, startTicks: stat.startTicks, by: "restore", at: Date.now() });
    } catch (err) {
      log(`registering container ${view.id} again failed: ${errorMessage(err)}`);
    }
  }
}
