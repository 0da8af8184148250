// Tasks (threads) of a container cgroup and all its descendants: states for /proc/loadavg and
// /proc/stat's procs_running/procs_blocked, and the last pid as the container numbers it.
import { join } from "node:path";
import type { TaskNumbers } from "./types.js";
import type { CgroupLayout, ControllerMount } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { cgroupDir, listOptional, readOptional } from "./read.js";
import { readStatus, stateOfStat } from "./process.js";

/** The hierarchy whose task lists we walk, and the container's path in it. v1: cpuacct, else cpu, else memory. */
export function taskHierarchy(layout: CgroupLayout, paths: CgroupPaths): { mount: ControllerMount; path: string } | null {
  for (const c of ["cpuacct", "cpu", "memory"] as const) {
    const mount = layout.mounts[c];
    if (mount !== undefined) return { mount, path: paths[c] };
  }
  return null;
}

/** Calls `visit` with the directory of the cgroup and of each descendant; false when the cgroup is gone. */
function walk(dir: string, visit: (dir: string) => void): boolean {
  const entries = listOptional(dir);
  if (entries === null) return false;
  visit(dir);
  for (const entry of entries) if (entry.isDirectory()) walk(join(dir, entry.name), visit);
  return true;
}

/** Calls `each` for every id in a tasks/cgroup.threads/cgroup.procs text (one decimal per line). */
function forEachId(text: string, each: (id: number) => void): void {
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    if (end > at) {
      const id = Number(text.slice(at, end));
      if (Number.isInteger(id) && id > 0) each(id);
    }
    at = end + 1;
  }
}

/**
 * null when the cgroup is gone. lastPid is 0 when no process is left. Every cgroup of the tree
 * lists its threads (cgroup.threads on v2, tasks on v1), which give the states; its processes
 * (cgroup.procs) give the last pid. A threaded cgroup has no process list (EOPNOTSUPP: its
 * processes are listed by their threaded domain, higher up): its threads' ids stand in, as the
 * kernel's own last pid counts threads too.
 */
export function readTaskNumbers(layout: CgroupLayout, paths: CgroupPaths, procRoot = "/proc"): TaskNumbers | null {
  const where = taskHierarchy(layout, paths);
  if (where === null) return null;
  const listFile = where.mount.version === 1 ? "tasks" : "cgroup.threads";
  const count: TaskNumbers = { running: 0, blocked: 0, total: 0, lastPid: 0 };
  const found = walk(cgroupDir(where.mount.dir, where.path), (dir) => {
    const threads = readOptional(join(dir, listFile));
    if (threads === null) return; // removed while walking
    forEachId(threads, (tid) => {
      const stat = readOptional(join(procRoot, String(tid), "stat"));
      if (stat === null) return; // exited since the list was read
      const state = stateOfStat(stat);
      count.total++;
      if (state === "R") count.running++;
      else if (state === "D") count.blocked++;
    });
    forEachId(readOptional(join(dir, "cgroup.procs")) ?? threads, (pid) => {
      const status = readStatus(procRoot, pid);
      if (status === null) return;
      const inner = status.nspid.at(-1) ?? 0;
      if (inner > count.lastPid) count.lastPid = inner;
    });
  });
  return found ? count : null;
}
