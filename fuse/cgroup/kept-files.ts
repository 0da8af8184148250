// Reading small kernel files (procfs, cgroupfs) into text with one reused buffer per thread.
//
// readSmallFile: open, read until EOF, close. readFileSync also fstat()s the file to size a fresh
// buffer, which buys nothing here (these files report a size of 0 or 4096 whatever they hold).
//
// readKept: for files a container's reads come back to again and again (its cgroup files, a
// reader's /proc/<pid>/cgroup), the descriptor is kept and the file re-read with pread at
// offset 0, which makes the kernel generate the text afresh (seq_file restarts at position 0):
// one syscall instead of three. A kept descriptor names the object it was opened on, not the
// path: a removed cgroup answers ENODEV on it and an exited process ESRCH, even when a new
// cgroup of the same name or a new process with the same pid exists by now. The path is then
// opened again, and the caller is told (`opened`) so that what it derived from the old object
// (a process's pid namespace) is derived afresh.
import { closeSync, openSync, readSync } from "node:fs";

let buffer = Buffer.allocUnsafe(64 * 1024);

/** Reads `fd` from offset 0 to EOF. `singleRecord`: the file is one seq_file record (every
 * cgroup file procview keeps), so a short read is the end. Not so for files of many records
 * (/proc/cpuinfo, /proc/diskstats): the kernel stops short when the next record does not fit. */
function readAll(fd: number, singleRecord: boolean): string {
  let length = 0;
  for (;;) {
    if (length === buffer.length) {
      const bigger = Buffer.allocUnsafe(buffer.length * 2);
      buffer.copy(bigger, 0, 0, length);
      buffer = bigger;
    }
    const n = readSync(fd, buffer, length, buffer.length - length, length);
    if (n === 0) break;
    length += n;
    // Saves the syscall that would return 0.
    if (singleRecord && length < buffer.length) break;
  }
  return buffer.toString("utf8", 0, length);
}

/** `singleRecord`: see readAll; true only for files the kernel writes in one piece. */
export function readSmallFile(path: string, singleRecord = false): string {
  const fd = openSync(path, "r");
  try {
    return readAll(fd, singleRecord);
  } finally {
    closeSync(fd);
  }
}

/** Open descriptors by path with when each was last read, least recently used first (a Map
 * keeps insertion order). */
const kept = new Map<string, { fd: number; usedAt: number }>();
let keptLimit = 4096;
/** A descriptor of a removed cgroup keeps the kernel's dead cgroup (and, for memory, its
 * charged pages) alive: none is kept longer than this without being read. */
const KEPT_IDLE_MS = 30_000;

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

function forget(path: string, fd: number): void {
  kept.delete(path);
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing held.
  }
}

function closeIdle(now: number): void {
  for (const [path, entry] of kept) {
    if (now - entry.usedAt < KEPT_IDLE_MS) break;
    forget(path, entry.fd);
  }
}

/** Errors of a kept descriptor whose object is gone while its path may name a new one. */
const REOPEN = new Set(["ENODEV", "ESRCH"]);

export interface KeptRead {
  text: string;
  /** The descriptor was opened by this call, so it may name another object than the last read of this path did. */
  opened: boolean;
}

export function readKept(path: string): KeptRead {
  const now = Date.now();
  closeIdle(now);
  const entry = kept.get(path);
  if (entry !== undefined) {
    const fd = entry.fd;
    kept.delete(path);
    try {
      const text = readAll(fd, true);
      kept.set(path, { fd, usedAt: now });
      return { text, opened: false };
    } catch (err) {
      forget(path, fd);
      if (!REOPEN.has(errorCode(err) ?? "")) throw err;
    }
  }
  let opened: number;
  try {
    opened = openSync(path, "r");
  } catch (err) {
    // Out of descriptors: keep fewer from now on, and read this one the plain way.
    if (errorCode(err) !== "EMFILE" && errorCode(err) !== "ENFILE") throw err;
    keptLimit = Math.max(64, kept.size >> 1);
    while (kept.size > keptLimit) {
      const [oldest, old] = kept.entries().next().value as [string, { fd: number }];
      forget(oldest, old.fd);
    }
    return { text: readSmallFile(path, true), opened: true };
  }
  if (kept.size >= keptLimit) {
    const [oldest, old] = kept.entries().next().value as [string, { fd: number }];
    forget(oldest, old.fd);
  }
  kept.set(path, { fd: opened, usedAt: now });
  try {
    return { text: readAll(opened, true), opened: true };
  } catch (err) {
    forget(path, opened);
    throw err;
  }
}
