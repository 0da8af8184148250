// Every path procview uses, defined once: the build's outputs, the keeper's runtime files,
// the install state, and the defaults the integrations share.
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
/** dist/: this module compiles to dist/core/paths.js; bundled into dist/procview-hook.mjs it
 * sits in dist/ itself. */
export const DIST_DIR = basename(here) === "core" ? dirname(here) : here;
/** The repository (or installed package) root: dist/'s parent. */
export const PACKAGE_ROOT = dirname(DIST_DIR);

/** The `procview` command. */
export const CLI_ENTRY = join(DIST_DIR, "cli", "procview.js");
/** What the keeper starts as a serving process. */
export const SERVING_ENTRY = join(DIST_DIR, "cli", "serving.js");
/** The OCI hook as one bundle, so a container start resolves no modules (see scripts/bundle-hook.ts). */
export const HOOK_BUNDLE = join(DIST_DIR, "procview-hook.mjs");
/** The bundle's source entry. */
export const HOOK_BUNDLE_SOURCE = join(PACKAGE_ROOT, "cli", "hook-main.ts");
export const NATIVE_DIR = join(DIST_DIR, "native");
/** open_tree + setns + move_mount (fuse/native/procview-nsmount.c). */
export const NSMOUNT_HELPER = join(NATIVE_DIR, "procview-nsmount");
/** The hook's client (hook/native/procview-hook.c). */
export const HOOK_CLIENT = join(NATIVE_DIR, "procview-hook");
/** Who is at the other end of a hook socket connection (hook/native/procview-peercred.c). */
export const PEERCRED_HELPER = join(NATIVE_DIR, "procview-peercred");
/** The keeper: owner of the mount, supervisor of the serving processes (fuse/keeper/native). */
export const KEEPER_PROGRAM = join(NATIVE_DIR, "procview-keeper");
/** execve() for `procview serve`, which becomes the keeper (fuse/keeper/native/procview-exec.c). */
export const EXEC_ADDON = join(NATIVE_DIR, "procview-exec.node");
/** flock(2), for the lock by which an NRI plugin's status record says it still runs (nri/native/procview-flock.c). */
export const FLOCK_ADDON = join(NATIVE_DIR, "procview-flock.node");

/** The container image `npm run image` builds (scripts/build-image.ts): its name, tagged with the
 * package's version, and the archive it is written to. "localhost/" marks it as built here,
 * not pulled from a registry. */
export const IMAGE_REPOSITORY = "localhost/procview";
export function imageReference(version: string): string {
  return `${IMAGE_REPOSITORY}:${version}`;
}
export function imageArchive(version: string): string {
  return join(DIST_DIR, "image", `procview-${version}.oci.tar`);
}
/** Where the image holds the package (dist/, node_modules/, package.json). */
export const IMAGE_APP_DIR = "/opt/procview";

/** Where the views are mounted, and where the integrations bind them from. */
export const DEFAULT_MOUNTPOINT = "/var/lib/procview";
export const DEFAULT_LOG_FILE = "/var/log/procview.log";
/** Status files (one per keeper) and hook sockets (one per serving process's mountpoint). */
export const DEFAULT_RUNTIME_DIR = "/run/procview";
/** What `procview install` wrote, for `procview uninstall`. */
export const DEFAULT_STATE_FILE = "/etc/procview/installed.json";
/** The OCI hook's optional config file. */
export const DEFAULT_HOOK_CONFIG = "/etc/procview/hook.json";

export const DEFAULT_CONTAINERD_CONFIG = "/etc/containerd/config.toml";
export const DEFAULT_NRI_SOCKET = "/var/run/nri/nri.sock";
export const DEFAULT_NRI_PLUGIN_DIR = "/opt/nri/plugins";
export const DEFAULT_NRI_LOG = "/var/log/procview-nri.log";

/** One name per mountpoint: "/var/lib/procview" → "var-lib-procview". */
function runtimeName(mountPoint: string): string {
  return mountPoint.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]+/g, "-") || "root";
}

/** The keeper's status file for a mountpoint (read by `status`, `reload`, `doctor`). */
export function statusPath(mountPoint: string, runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, `${runtimeName(mountPoint)}.json`);
}

/** The record of the FUSE connections (their devices) an instance on this mountpoint serves:
 * after a full restart, restore brings back only dead views of those (fuse/keeper/restore.ts).
 * Root's, beside the status file. */
export function connectionsPath(mountPoint: string, runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, `${runtimeName(mountPoint)}.connections`);
}

/** The keeper's root-only control socket: status, reload, and the handoff to a successor
 * keeper (`procview serve --take-over`), which must use the same runtime directory. */
export function keeperSocketPath(mountPoint: string, runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, `${runtimeName(mountPoint)}.keeper.sock`);
}

/** The socket procview-hook asks the serving process of this mountpoint on: in a directory of
 * its own that only root can enter (the runtime directory itself stays readable for `status`). */
export function hookSocketPath(mountPoint: string, runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, "hook", `${runtimeName(mountPoint)}.sock`);
}

/** sun_path holds 108 bytes, the last one a NUL. */
export const SOCKET_PATH_MAX_BYTES = 107;

/** Where a serving process makes its hook socket before renaming it into place (the same
 * directory, so that the rename is atomic). */
export function hookSocketTemporary(path: string, pid: number): string {
  return `${path}.${pid}.tmp`;
}

/** The socket and its temporary name (a pid has at most 7 digits) both fit in sun_path. */
export function fitsSocketPath(path: string): boolean {
  return Buffer.byteLength(hookSocketTemporary(path, 9_999_999)) <= SOCKET_PATH_MAX_BYTES;
}

/** The NRI plugins' status records, one per running plugin (nri/status.ts). */
export function nriStatusDir(runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, "nri");
}
