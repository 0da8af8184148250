// Parsing /proc/<pid>/cgroup into per-hierarchy paths.
import { join } from "node:path";
import { readKeptOptional, readOptional } from "./read.js";

export interface Membership {
  /** v1 hierarchies by controller or name ("memory", "cpu", "name=systemd", …) → path. */
  v1: Map<string, string>;
  /** The "0::/path" line; null when the process is in no cgroup2 hierarchy. */
  v2: string | null;
}

/** The kernel appends this to the cgroup2 path of a process whose cgroup was removed (it is
 * exiting): the path is the removed cgroup's. */
const DELETED = " (deleted)";

export function withoutDeleted(path: string): string {
  return path.endsWith(DELETED) ? path.slice(0, -DELETED.length) : path;
}

/**
 * Lines are "id:controllers:path". Controllers may be comma-combined ("4:cpu,cpuacct:/x"); the
 * path may itself contain ':' so only the first two colons split.
 */
export function parseProcCgroup(text: string): Membership {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    if (first < 0) continue;
    const second = line.indexOf(":", first + 1);
    if (second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = withoutDeleted(line.slice(second + 1));
    if (controllers === "") {
      if (line.slice(0, first) === "0") v2 = path;
      continue;
    }
    for (const c of controllers.split(",")) if (c !== "") v1.set(c, path);
  }
  return { v1, v2 };
}

/** null when the process is gone. */
export function readMembership(procRoot: string, pid: number): Membership | null {
  // One piece (proc_cgroup_show), read on every open: no second read() to find EOF.
  const text = readOptional(join(procRoot, String(pid), "cgroup"), true);
  return text === null ? null : parseProcCgroup(text);
}

/** Parsed texts, by text: the readers of one container all have the same lines. */
const parsed = new Map<string, Membership>();

export interface ReaderMembership {
  membership: Membership;
  /** Read through a descriptor opened just now: the pid may name another process than last time. */
  opened: boolean;
}

/**
 * For the reader of every open: /proc/<pid>/cgroup through a kept descriptor, so that a reader
 * that comes back costs one pread (the text is generated afresh each time: a process can move to
 * another cgroup at any moment). The descriptor stays bound to the process it was opened on.
 * null when the process is gone.
 */
export function readReaderMembership(procRoot: string, pid: number): ReaderMembership | null {
  const read = readKeptOptional(join(procRoot, String(pid), "cgroup"));
  if (read === null) return null;
  let membership = parsed.get(read.text);
  if (membership === undefined) {
    if (parsed.size >= 4096) parsed.clear();
    membership = parseProcCgroup(read.text);
    parsed.set(read.text, membership);
  }
  return { membership, opened: read.opened };
}
