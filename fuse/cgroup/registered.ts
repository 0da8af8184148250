// The container a registration names (core/registry.ts), as the reader it would be: the files
// under <mountpoint>/containers/<id>/ show what a process of that container sees at the top
// level, whoever reads them. The OCI hook records the container's init; the NRI plugin, which
// answers before the container exists, its cgroups path, in which a process is looked for once
// the container runs.
import { join } from "node:path";
import type { Registration } from "../../core/registry.js";
import { isAncestorOrSelf, resolveCaller, type Caller, type CallerOptions } from "./caller.js";
import { CONTROLLERS, type CgroupLayout } from "./layout.js";
import { readStat } from "./process.js";
import { cgroupDir, listOptional, readOptional } from "./read.js";

/** A cgroup directory component: what runc and systemd accept, never "." or "..". */
const COMPONENT = /^[A-Za-z0-9_.:@+=-]{1,255}$/;

/**
 * The cgroup an OCI linux.cgroupsPath names, as a path from the hierarchy's root, the way runc
 * reads it: "/a/b" (or "a/b") with the cgroupfs driver; "slice:prefix:name" with the systemd
 * driver, whose slice "a-b.slice" nests as /a.slice/a-b.slice and whose unit is
 * "prefix-name.scope" (or "name" itself when it is a slice). null when it names nothing valid.
 */
export function cgroupOfPath(cgroupsPath: string): string | null {
  const parts = cgroupsPath.split(":");
  let path: string[];
  if (parts.length === 3 && !cgroupsPath.startsWith("/")) {
    const [slice, prefix, name] = parts as [string, string, string];
    const parent = expandSlice(slice === "" ? "system.slice" : slice);
    if (parent === null || name === "") return null;
    const unit = name.endsWith(".slice") ? name : `${prefix === "" ? "" : `${prefix}-`}${name}.scope`;
    path = [...parent, unit];
  } else {
    path = cgroupsPath.split("/").filter((p) => p !== "");
  }
  if (path.length === 0 || !path.every((p) => COMPONENT.test(p) && p !== "." && p !== "..")) return null;
  return "/" + path.join("/");
}

/** systemd's slice nesting: "a-b-c.slice" → [a.slice, a-b.slice, a-b-c.slice]; "-.slice" → []. */
function expandSlice(slice: string): string[] | null {
  if (!slice.endsWith(".slice")) return null;
  if (slice === "-.slice") return [];
  const name = slice.slice(0, -".slice".length);
  if (name === "" || name.startsWith("-") || name.endsWith("-") || name.includes("--")) return null;
  const words = name.split("-");
  return words.map((_, i) => `${words.slice(0, i + 1).join("-")}.slice`);
}

/** The first process found in the cgroup at `path` or below it (processes sit in leaves on
 * cgroup v2: a container's init.scope, crun's "container"), in the hierarchy that shows them. */
function processIn(layout: CgroupLayout, path: string): number | null {
  const roots = [layout.unifiedDir, layout.mounts.memory?.dir, layout.mounts.cpu?.dir];
  for (const root of new Set(roots)) {
    if (root === null || root === undefined) continue;
    const found = processBelow(cgroupDir(root, path));
    if (found !== null) return found;
  }
  return null;
}

function processBelow(top: string): number | null {
  const search = (dir: string, depth: number): number | null => {
    const procs = readOptional(join(dir, "cgroup.procs"));
    const first = procs?.split("\n").find((line) => line !== "");
    if (first !== undefined) return Number(first);
    if (depth === 0) return null;
    for (const entry of listOptional(dir) ?? []) {
      if (!entry.isDirectory()) continue;
      const found = search(join(dir, entry.name), depth - 1);
      if (found !== null) return found;
    }
    return null;
  };
  return search(top, 3);
}

/** A registration made this recently stays while its cgroup does not exist yet: the NRI plugin
 * registers a container before the runtime creates it. */
const UNBORN_GRACE_MS = 10 * 60_000;

/** Whether the registered container is gone (its init exited; its cgroup removed, or never made). */
export function registrationGone(registration: Registration, layout: CgroupLayout, procRoot: string, now: number): boolean {
  if (registration.pid !== undefined && registration.startTicks !== undefined) {
    const stat = readStat(procRoot, registration.pid);
    if (stat !== null && stat.startTicks === registration.startTicks) return false;
    if (registration.cgroupsPath === undefined) return true;
  }
  const path = registration.cgroupsPath === undefined ? null : cgroupOfPath(registration.cgroupsPath);
  if (path === null) return true;
  const roots = [layout.unifiedDir, layout.mounts.memory?.dir, layout.mounts.cpu?.dir];
  if (roots.some((root) => root !== null && root !== undefined && listOptional(cgroupDir(root, path)) !== null)) return false;
  return now - registration.at > UNBORN_GRACE_MS;
}

/**
 * The registered container as a reader of its own views; null while it cannot be told (the
 * cgroup has no process yet) or once it is gone (its init exited, its cgroup was removed).
 */
export function resolveRegistered(registration: Registration, options: CallerOptions): Caller | null {
  const procRoot = options.procRoot ?? "/proc";
  if (registration.pid !== undefined && registration.startTicks !== undefined) {
    const stat = readStat(procRoot, registration.pid);
    if (stat !== null && stat.startTicks === registration.startTicks) {
      const caller = resolveCaller(registration.pid, options);
      if (caller !== null) return caller;
    }
    if (registration.cgroupsPath === undefined) return null;
  }
  const path = registration.cgroupsPath === undefined ? null : cgroupOfPath(registration.cgroupsPath);
  if (path === null) return null;
  const pid = processIn(options.layout, path);
  const caller = pid === null ? null : resolveCaller(pid, options);
  // A process the runtime is still moving in (runc joins one hierarchy after another) or that
  // has left already: not the container yet.
  if (caller === null || !CONTROLLERS.every((c) => options.layout.mounts[c] === undefined || isAncestorOrSelf(path, caller.ownPaths[c])))
    return null;
  return caller;
}
