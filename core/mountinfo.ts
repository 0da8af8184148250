// /proc/<pid>/mountinfo, parsed once for every reader of it (the keeper's mount checks, the
// restore of dead views, doctor and the bench's clean-up).
import { readFileSync } from "node:fs";

export interface MountEntry {
  /** Field 3: the filesystem's device, "major:minor"; one per FUSE connection, for as long as
   * any mount of it exists, dead or alive. */
  device: string;
  /** Field 4: the root of the mount within its filesystem (a bind's source path there). */
  root: string;
  /** Field 5, as the reading process's mount namespace sees it. */
  mountPoint: string;
  /** Field 6: per-mount options (rw/ro, nosuid, …). */
  options: string;
  fstype: string;
  source: string;
  /** The filesystem's own options (for a v1 cgroup mount, its controllers: "rw,cpu,cpuacct"). */
  superOptions: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const separator = fields.indexOf("-");
    if (separator < 6 || fields.length < separator + 3) continue;
    entries.push({
      device: fields[2]!,
      root: unescapeField(fields[3]!),
      mountPoint: unescapeField(fields[4]!),
      options: fields[5]!,
      fstype: fields[separator + 1]!,
      source: unescapeField(fields[separator + 2]!),
      superOptions: fields[separator + 3] ?? "",
    });
  }
  return entries;
}

/** This process's mounts. */
export function ownMounts(): MountEntry[] {
  return parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
}

export function mountsAt(mountPoint: string, entries: MountEntry[] = ownMounts()): MountEntry[] {
  return entries.filter((entry) => entry.mountPoint === mountPoint);
}
