// Where each controller lives under a cgroupRoot, and which interface (v1 files or v2 files) it
// speaks. Detected from the directory tree alone (no /proc/mounts), so fixture trees work the same.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CgroupReadError, isGone, readOptional } from "./read.js";

export const CONTROLLERS = ["memory", "cpu", "cpuacct", "cpuset", "blkio", "pids"] as const;
export type Controller = (typeof CONTROLLERS)[number];

export interface ControllerMount {
  /** Hierarchy root directory; a cgroup path "/a/b" lives at dir + "/a/b". */
  dir: string;
  version: 1 | 2;
}

export interface CgroupLayout {
  cgroupRoot: string;
  /** v2: unified only. v1: v1 hierarchies only. hybrid: v1 hierarchies plus a cgroup2 mount (usually "unified"). */
  mode: "v1" | "v2" | "hybrid";
  /** Only controllers actually available; a missing one means "no numbers from that controller". */
  mounts: Partial<Record<Controller, ControllerMount>>;
  /** The cgroup2 hierarchy dir (the root itself on v2, e.g. <root>/unified on hybrid), null if none. */
  unifiedDir: string | null;
}

const KNOWN = new Set<string>(CONTROLLERS);

/** Controllers named by a v1 mount directory: "cpu,cpuacct" → [cpu, cpuacct]; "name=systemd"/"systemd" → []. */
export function controllersOfMountName(name: string): Controller[] {
  const out: Controller[] = [];
  for (const part of name.split(",")) if (KNOWN.has(part)) out.push(part as Controller);
  return out;
}

/** v2 `cgroup.controllers` text → our controllers (io stands for blkio; cpu also provides cpuacct's usage). */
export function controllersOfV2List(text: string): Controller[] {
  const out: Controller[] = [];
  for (const word of text.split(/\s+/)) {
    if (word === "io") out.push("blkio");
    else if (word === "cpu") out.push("cpu", "cpuacct");
    else if (KNOWN.has(word)) out.push(word as Controller);
  }
  return out;
}

export function detectLayout(cgroupRoot = "/sys/fs/cgroup"): CgroupLayout {
  if (existsSync(join(cgroupRoot, "cgroup.controllers"))) {
    // Pure v2: every controller is reached at the root. Mapped even when not enabled, because
    // cpu.stat and the root's cpuset.cpus.effective exist regardless; absent files read as "no limit".
    const mounts: Partial<Record<Controller, ControllerMount>> = {};
    for (const c of CONTROLLERS) mounts[c] = { dir: cgroupRoot, version: 2 };
    return { cgroupRoot, mode: "v2", mounts, unifiedDir: cgroupRoot };
  }

  let entries: string[];
  try {
    entries = readdirSync(cgroupRoot);
  } catch (err) {
    throw new CgroupReadError(cgroupRoot, `cannot list cgroup root: ${(err as Error).message}`, { cause: err });
  }
  // Real directories first, so "cpu,cpuacct" wins over its "cpu"/"cpuacct" symlinks (same place either way).
  const dirs: string[] = [];
  const singles: string[] = [];
  let unifiedDir: string | null = null;
  for (const name of entries) {
    const full = join(cgroupRoot, name);
    let isDir: boolean;
    try {
      isDir = statSync(full).isDirectory();
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    if (!isDir) continue;
    if (existsSync(join(full, "cgroup.controllers"))) {
      unifiedDir = full;
      continue;
    }
    if (name.includes(",")) dirs.push(name);
    else singles.push(name);
  }
  const mounts: Partial<Record<Controller, ControllerMount>> = {};
  for (const name of [...dirs, ...singles]) {
    for (const c of controllersOfMountName(name)) mounts[c] ??= { dir: join(cgroupRoot, name), version: 1 };
  }
  if (unifiedDir !== null) {
    // Hybrid setups may hand some controllers to cgroup2; use it only for what v1 lacks.
    const listed = readOptional(join(unifiedDir, "cgroup.controllers")) ?? "";
    for (const c of controllersOfV2List(listed)) mounts[c] ??= { dir: unifiedDir, version: 2 };
  }
  return { cgroupRoot, mode: unifiedDir === null ? "v1" : "hybrid", mounts, unifiedDir };
}
