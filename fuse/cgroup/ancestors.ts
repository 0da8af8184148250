// The best honest numbers when a cgroup's own cannot be read. A cgroup file that fails in a way
// the kernel does not document for it (EACCES, EIO, EINVAL, text we cannot parse) says nothing
// about the cgroup's ancestors: their limits contain the cgroup's, so their numbers are an
// upper bound that never belongs to a sibling. The root's numbers are the host's, which the
// server shows by passing the host's own files through, so the walk stops below it.
import { CONTROLLERS } from "./layout.js";
import type { CgroupPaths } from "./caller.js";

/** Each controller's path one level up (the root stays the root); null when all are the root. */
export function parentPaths(paths: CgroupPaths): CgroupPaths | null {
  const out = {} as CgroupPaths;
  let moved = false;
  for (const c of CONTROLLERS) {
    const path = paths[c];
    if (path === "/") {
      out[c] = path;
      continue;
    }
    const slash = path.lastIndexOf("/");
    out[c] = slash <= 0 ? "/" : path.slice(0, slash);
    moved = true;
  }
  return moved ? out : null;
}

function atRoot(paths: CgroupPaths): boolean {
  return CONTROLLERS.every((c) => paths[c] === "/");
}

/**
 * `read(paths)`; when it throws, `onError` is told (with the paths that failed) and the parent
 * paths are read instead, and so on. null: `read` said the cgroup is gone. undefined: every
 * level below the root failed, so only the host's numbers are left.
 */
export function readOrAncestor<T>(
  paths: CgroupPaths,
  read: (paths: CgroupPaths) => T | null,
  onError: (err: unknown, failed: CgroupPaths) => void,
): T | null | undefined {
  for (let at: CgroupPaths | null = paths; at !== null && !atRoot(at); at = parentPaths(at)) {
    try {
      return read(at);
    } catch (err) {
      onError(err, at);
    }
  }
  return undefined;
}
