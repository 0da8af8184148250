// Where each controller lives under a cgroupRoot, and which interface (v1 files or v2 files) it
// speaks. Detected from the directory tree alone (no /proc/mounts), so fixture trees work the same.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CgroupReadError, cgroupDir, isGone, readCgroupFile, readOptional, selfAndAncestors } from "./read.js";

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
  /** What the cgroup2 root's cgroup.controllers lists, in the kernel's names ("memory", "io", …); null without a cgroup2 hierarchy. */
  v2Controllers: string[] | null;
}

/** The cgroup2 name of each of our controllers. */
const V2_NAME: Record<Controller, string> = { memory: "memory", cpu: "cpu", cpuacct: "cpu", cpuset: "cpuset", blkio: "io", pids: "pids" };

/** The cgroup2 names a cgroup.controllers text lists. */
function listed(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== "");
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
  const rootList = readOptional(join(cgroupRoot, "cgroup.controllers"));
  if (rootList !== null) {
    // Pure v2: every controller is reached at the root. Mapped even when not available, because
    // cpu.stat and cgroup.threads exist regardless; a controller's missing files read as "not
    // here", and its numbers come from the nearest ancestor that has it (see chargedPath), which
    // is the root (the host's numbers) when no cgroup has it.
    const mounts: Partial<Record<Controller, ControllerMount>> = {};
    for (const c of CONTROLLERS) mounts[c] = { dir: cgroupRoot, version: 2 };
    return { cgroupRoot, mode: "v2", mounts, unifiedDir: cgroupRoot, v2Controllers: listed(rootList) };
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
  let v2Controllers: string[] | null = null;
  if (unifiedDir !== null) {
    // Hybrid setups may hand some controllers to cgroup2; use it only for what v1 lacks.
    const text = readOptional(join(unifiedDir, "cgroup.controllers")) ?? "";
    v2Controllers = listed(text);
    for (const c of controllersOfV2List(text)) mounts[c] ??= { dir: unifiedDir, version: 2 };
  }
  return { cgroupRoot, mode: unifiedDir === null ? "v1" : "hybrid", mounts, unifiedDir, v2Controllers };
}

/**
 * Where `controller` accounts for the cgroup at `path`. v1: the cgroup itself (each hierarchy
 * has its controller everywhere). v2: the nearest ancestor-or-self whose cgroup.controllers lists
 * it, because a cgroup whose parent does not enable a controller (a threaded cgroup for memory
 * and io, a leaf its manager left without memory) is charged to that ancestor: its numbers are
 * the honest ones. "/" when only the root has it; null when the cgroup is gone.
 */
export function chargedPath(layout: CgroupLayout, controller: Controller, path: string): string | null {
  const mount = layout.mounts[controller];
  if (mount === undefined || mount.version === 1 || path === "/") return path;
  const name = V2_NAME[controller];
  for (const p of selfAndAncestors(path)) {
    if (p === "/") return "/";
    const text = readCgroupFile(`${cgroupDir(mount.dir, p)}/cgroup.controllers`);
    if (text === null) {
      if (p === path) return null;
      continue;
    }
    if (listed(text).includes(name)) return p;
  }
  return "/";
}
