// Filesystem checks on the container side, done before anything is mounted.
//
// What the container's mount namespace looks like when the hook runs (runc
// v1.1.5, libcontainer/rootfs_linux.go prepareRootfs and
// libcontainer/process_linux.go, procHooks case):
//  - runc init has already mounted every config.json mount under the rootfs
//    (so <rootfs>/proc is the container's procfs and <rootfs>/sys its sysfs)
//    and created /dev, then calls syncParentHooks();
//  - the parent `runc create` then runs the prestart and createRuntime hooks
//    with state.pid = the init process and status "creating";
//  - only after the hooks does init chdir to the rootfs and pivot_root, so the
//    init process still has the host's root, and mounts made now under
//    <rootfs> (the host path from config.json, made absolute against the
//    bundle by libcontainer/specconv) end up inside the container.
//  - maskedPaths/readonlyPaths are applied after pivot_root
//    (standard_init_linux.go), i.e. after us.
// Hence the checks below look through /proc/<pid>/root, which resolves paths
// in the container's mount namespace (where <rootfs>/proc is a procfs), not
// the hook's own (where it is the image's empty directory).
import { lstat, readlink, realpath, stat } from "node:fs/promises";
import path from "node:path";

export class InputError extends Error {}

/** root.path from config.json, made absolute against the bundle like runc does, resolved and checked to be a directory. */
export async function resolveRootfs(bundle: string, rootPath: string): Promise<string> {
  const joined = path.isAbsolute(rootPath) ? rootPath : path.join(bundle, rootPath);
  let real: string;
  try {
    real = await realpath(joined);
  } catch (err) {
    throw new InputError(`rootfs ${joined} cannot be resolved: ${(err as Error).message}`);
  }
  const st = await stat(real).catch((err: Error) => {
    throw new InputError(`rootfs ${real} cannot be read: ${err.message}`);
  });
  if (!st.isDirectory()) throw new InputError(`rootfs ${real} is not a directory`);
  if (real === "/") throw new InputError("rootfs resolves to / ; refusing to bind over the host");
  return real;
}

/** The container's init must be alive and in a mount namespace other than ours. */
export async function checkContainerProcess(pid: number): Promise<void> {
  let theirs: string;
  try {
    theirs = await readlink(`/proc/${pid}/ns/mnt`);
  } catch (err) {
    throw new InputError(`container process ${pid} is gone or inaccessible: ${(err as Error).message}`);
  }
  const ours = await readlink("/proc/self/ns/mnt");
  if (theirs === ours) {
    throw new InputError(`container process ${pid} shares the hook's mount namespace (${ours}); refusing to bind on the host`);
  }
}

/**
 * Why a target must be skipped, or undefined when it is a regular file we can
 * bind over. Every component is lstat'ed and none may be a symlink: the image
 * controls the rootfs and could make e.g. proc/meminfo a link to a host path.
 * Nothing in the container runs yet (init is blocked until the hooks return),
 * so the image cannot swap a component between this check and the mount.
 */
export async function targetSkipReason(pid: number, rootfs: string, destination: string): Promise<string | undefined> {
  const parts = destination.split("/").filter(Boolean);
  let current = `/proc/${pid}/root${rootfs}`;
  for (let i = 0; i < parts.length; i++) {
    current += "/" + parts[i];
    let st;
    try {
      st = await lstat(current);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return code === "ENOENT" || code === "ENOTDIR"
        ? `${destination} does not exist in the container`
        : `${destination} cannot be checked: ${code ?? (err as Error).message}`;
    }
    const shown = "/" + parts.slice(0, i + 1).join("/");
    if (st.isSymbolicLink()) return `${shown} is a symlink in the container; not following it`;
    const last = i === parts.length - 1;
    if (!last && !st.isDirectory()) return `${shown} is not a directory in the container`;
    if (last && !st.isFile()) return `${destination} is not a regular file in the container`;
  }
  return undefined;
}
