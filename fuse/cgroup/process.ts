// Per-process facts from procfs: /proc/<pid>/status (PPid, NSpid), /proc/<pid>/stat (state,
// start time) and the pid-namespace link. Pure parsers plus thin null-on-gone readers.
import { join } from "node:path";
import { CgroupReadError, readOptional, readlinkOptional } from "./read.js";

export interface ProcessStatus {
  ppid: number;
  /** NSpid entries, outermost (as seen from the procfs's pid namespace) first; the last is the innermost. */
  nspid: number[];
}

/** Reads only up to NSpid (it follows PPid), so the long tail of status is never split. */
export function parseStatus(text: string, where = "status"): ProcessStatus {
  let ppid = -1;
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    if (text.startsWith("PPid:", at)) {
      ppid = Number(text.slice(at + 5, end).trim());
    } else if (text.startsWith("NSpid:", at)) {
      const nspid = text
        .slice(at + 6, end)
        .trim()
        .split(/\s+/)
        .map(Number);
      if (ppid < 0 || nspid.some((n) => !Number.isInteger(n))) break;
      return { ppid, nspid };
    }
    at = end + 1;
  }
  throw new CgroupReadError(where, "no PPid/NSpid lines (kernel older than 4.1?)");
}

export interface ProcessStat {
  /** One-letter state: R, S, D, Z, T, t, X, I, … */
  state: string;
  /** Field 22, clock ticks after boot. */
  startTicks: number;
}

/** The comm field may hold spaces and parentheses, so fields are counted from the last ')'. */
export function parseStat(text: string, where = "stat"): ProcessStat {
  const close = text.lastIndexOf(")");
  if (close < 0 || text.charCodeAt(close + 1) !== 32) throw new CgroupReadError(where, "no ') ' after comm");
  const state = text.charAt(close + 2);
  // Field 3 (state) is at close+2; field 22 is 19 spaces further.
  let at = close + 2;
  for (let field = 3; field < 22; field++) {
    at = text.indexOf(" ", at) + 1;
    if (at === 0) throw new CgroupReadError(where, "fewer than 22 fields");
  }
  let end = text.indexOf(" ", at);
  if (end < 0) end = text.length;
  const startTicks = Number(text.slice(at, end));
  if (!Number.isFinite(startTicks)) throw new CgroupReadError(where, "bad start time");
  return { state, startTicks };
}

/** Only the state letter; cheaper than parseStat for the per-task scans. null when malformed. */
export function stateOfStat(text: string): string | null {
  const close = text.lastIndexOf(")");
  return close < 0 ? null : text.charAt(close + 2) || null;
}

export function readStatus(procRoot: string, pid: number): ProcessStatus | null {
  const path = join(procRoot, String(pid), "status");
  const text = readOptional(path, true); // status and stat are written in one piece
  return text === null ? null : parseStatus(text, path);
}

export function readStat(procRoot: string, pid: number): ProcessStat | null {
  const path = join(procRoot, String(pid), "stat");
  const text = readOptional(path, true); // status and stat are written in one piece
  return text === null ? null : parseStat(text, path);
}

/** "pid:[4026531836]" or null when the process is gone. */
export function readPidNs(procRoot: string, pid: number | "self"): string | null {
  return readlinkOptional(join(procRoot, String(pid), "ns", "pid"));
}

/** "cgroup:[4026531835]" or null when the process is gone. */
export function readCgroupNs(procRoot: string, pid: number | "self"): string | null {
  return readlinkOptional(join(procRoot, String(pid), "ns", "cgroup"));
}

/** The host's (the initial) cgroup namespace: its inode number is fixed by the kernel
 * (PROC_CGROUP_INIT_INO). */
export const INITIAL_CGROUP_NS = "cgroup:[4026531835]";

/** null when procview's own cgroup namespace is the host's; else a sentence saying what that costs. */
export function privateCgroupNamespace(procRoot = "/proc"): string | null {
  const own = readCgroupNs(procRoot, "self");
  if (own === null || own === INITIAL_CGROUP_NS) return null;
  return (
    `procview runs in a private cgroup namespace (${own}): the cgroups of processes outside it cannot be named from here, ` +
    `so they are shown the host's files; run it in the host's cgroup namespace`
  );
}
