// What the mount is called. The keeper (fuse/keeper/native/mount.c) opens /dev/fuse and mounts
// with mount(2); these names are what the rest of procview looks for.
export const FUSE_DEVICE = "/dev/fuse";
/** The filesystem type in mountinfo (the keeper mounts "fuse.procview"). */
export const FSTYPE = "fuse.procview";

export class MountError extends Error {
  override name = "MountError";
}
