// Opening /dev/fuse and attaching it to a mountpoint with mount(8). `mount -i` skips the
// mount.fuse helper and calls mount(2) directly; the device descriptor reaches the child as
// its fd 3, named in the options (fd=3).
import { closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { execa } from "execa";
import { mountsAt } from "../../core/mountinfo.js";

export const FUSE_DEVICE = "/dev/fuse";
export const FSTYPE = "fuse.procview";

export class MountError extends Error {
  override name = "MountError";
}

export function openFuseDevice(): number {
  try {
    return openSync(FUSE_DEVICE, "r+");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new MountError(`${FUSE_DEVICE} does not exist: load the fuse module (modprobe fuse)`);
    if (code === "EACCES" || code === "EPERM")
      throw new MountError(`no permission to open ${FUSE_DEVICE}: procview serve must run as root`);
    throw new MountError(`cannot open ${FUSE_DEVICE}: ${String(err)}`);
  }
}

/** Makes sure `mountPoint` is a directory we may mount on; creates it when missing. */
export function prepareMountpoint(mountPoint: string): void {
  let stats;
  try {
    stats = statSync(mountPoint);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      mkdirSync(mountPoint, { recursive: true, mode: 0o755 });
      return;
    }
    // A FUSE mount whose server died answers every stat with ENOTCONN.
    if (code === "ENOTCONN") return;
    throw new MountError(`cannot use mountpoint ${mountPoint}: ${String(err)}`);
  }
  if (!stats.isDirectory()) throw new MountError(`mountpoint ${mountPoint} is not a directory`);
}

export type MountpointState = "free" | "stale" | "live";

/** A procview mount whose server is gone is stale (ENOTCONN); one still answering is live. */
export function mountpointState(mountPoint: string): MountpointState {
  const ours = mountsAt(mountPoint).filter((entry) => entry.fstype.startsWith("fuse"));
  if (ours.length === 0) return "free";
  try {
    statSync(mountPoint);
    return "live";
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTCONN") return "stale";
    throw new MountError(`cannot inspect the FUSE mount at ${mountPoint}: ${String(err)}`);
  }
}

export async function detachMount(mountPoint: string): Promise<void> {
  // Lazy: a dead connection cannot answer the final sync a normal umount would wait for.
  const result = await execa("umount", ["-l", mountPoint], { reject: false });
  if (result.exitCode !== 0) throw new MountError(`umount -l ${mountPoint} failed: ${result.stderr.trim()}`);
}

export interface MountRequest {
  fd: number;
  mountPoint: string;
  /** The `source` shown in mountinfo and by `mount`. */
  source: string;
}

export async function mountFuse(request: MountRequest): Promise<void> {
  const options = [
    "fd=3",
    "rootmode=40000",
    "user_id=0",
    "group_id=0",
    "allow_other",
    // No default_permissions: with it the kernel would refresh a file's (never cached)
    // attributes before every open, one more round trip per read; every file is 0444 and
    // OPEN refuses writers itself.
  ].join(",");
  const result = await execa("mount", ["-i", "-t", FSTYPE, "-o", options, request.source, request.mountPoint], {
    reject: false,
    // execa passes a numeric stdio entry to the child as that descriptor; its types only
    // admit literal 3..9 there, hence the cast.
    stdio: ["ignore", "pipe", "pipe", request.fd as 3],
  });
  if (result.exitCode !== 0) {
    throw new MountError(`mount of ${request.mountPoint} failed: ${String(result.stderr).trim() || `exit ${result.exitCode}`}`);
  }
}

export function closeDevice(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed by an unmount race: nothing left to release.
  }
}
