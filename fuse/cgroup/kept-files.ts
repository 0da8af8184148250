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
import { closeSync, existsSync, openSync, readSync } from "node:fs";

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

/** A descriptor kept open, and where the shared registry knows it (slot -1: not registered). */
interface Kept {
  fd: number;
  usedAt: number;
  slot: number;
  gen: number;
}

/** Open descriptors by path, least recently used first (a Map keeps insertion order). */
const kept = new Map<string, Kept>();
let keptLimit = 4096;
/** A descriptor of a removed cgroup keeps the kernel's dead cgroup (and, for memory, its
 * charged pages) alive: none is kept longer than this without being read. */
export const KEPT_IDLE_MS = 30_000;

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}

// ---- The shared registry
//
// A serving thread sits in read() on /dev/fuse until the next request, so on an idle service
// nothing would ever close what it keeps: descriptors of cgroups removed long ago, each pinning
// a dead cgroup in the kernel. Each thread therefore registers its kept descriptors in shared
// memory, in slots of its own, and the service thread (KeptSweeper) closes those idle past
// KEPT_IDLE_MS or whose directory is gone. A slot is IDLE, BUSY (its owner is reading it, or
// the sweeper closing it) or FREE; whoever moves it from IDLE to BUSY may use the descriptor,
// and a generation bumped at each close tells an owner its slot was closed and used again.
const FREE = 0;
const IDLE = 1;
const BUSY = 2;
const S_STATE = 0;
const S_GEN = 1;
const S_FD = 2;
/** Seconds since the registry was made. */
const S_USED_AT = 3;
const S_DIR_LENGTH = 4;
const S_FIELDS = 5;
/** The directory of a kept file, for the sweeper to check it still exists (longer: not checked). */
const DIR_BYTES = 200;

export interface KeptRegistryBuffers {
  cells: SharedArrayBuffer;
  dirs: SharedArrayBuffer;
  slotsPerThread: number;
  threads: number;
  /** Date.now() when made: S_USED_AT counts seconds from it. */
  base: number;
}

export function createKeptRegistryBuffers(threads: number, slotsPerThread = 4096): KeptRegistryBuffers {
  const slots = threads * slotsPerThread;
  return {
    cells: new SharedArrayBuffer(4 * S_FIELDS * slots),
    dirs: new SharedArrayBuffer(DIR_BYTES * slots),
    slotsPerThread,
    threads,
    base: Date.now(),
  };
}

interface Registry {
  cells: Int32Array;
  dirs: Buffer;
  base: number;
  first: number;
  end: number;
  /** Where to look for a free slot next, when `freed` has none. */
  next: number;
  /** Slots this thread freed, or found closed by the sweeper: free most likely (each is taken
   * with a compare-and-swap all the same). Without it, finding a free slot among thousands in
   * use (a service that keeps as many files as it may, evicting the least recently used) cost
   * a scan of every slot at each open. */
  freed: number[];
}

let registry: Registry | undefined;

/** Registers this thread's kept descriptors in the shared registry, in the slots of `thread`. */
export function useKeptRegistry(buffers: KeptRegistryBuffers, thread: number): void {
  const first = thread * buffers.slotsPerThread;
  registry = {
    cells: new Int32Array(buffers.cells),
    dirs: Buffer.from(buffers.dirs),
    base: buffers.base,
    first,
    end: first + buffers.slotsPerThread,
    next: first,
    freed: [],
  };
  keptLimit = Math.min(keptLimit, buffers.slotsPerThread);
}

const secondsOf = (base: number, now: number): number => Math.floor((now - base) / 1000);

/** A free slot of this thread's, taken (BUSY) for `fd`; -1 when every slot is in use. */
function register(fd: number, path: string, now: number): { slot: number; gen: number } {
  if (registry === undefined) return { slot: -1, gen: 0 };
  const { cells, first, end, freed } = registry;
  for (let slot = freed.pop(); slot !== undefined; slot = freed.pop()) {
    if (Atomics.compareExchange(cells, slot * S_FIELDS + S_STATE, FREE, BUSY) === FREE) return take(slot, fd, path, now);
  }
  for (let n = first; n < end; n++) {
    const slot = registry.next;
    registry.next = slot + 1 < end ? slot + 1 : first;
    const at = slot * S_FIELDS;
    if (Atomics.compareExchange(cells, at + S_STATE, FREE, BUSY) === FREE) return take(slot, fd, path, now);
  }
  return { slot: -1, gen: 0 };
}

/** Fills a slot just taken (BUSY) for `fd`. */
function take(slot: number, fd: number, path: string, now: number): { slot: number; gen: number } {
  const { cells, dirs, base } = registry!;
  const at = slot * S_FIELDS;
  const dir = Buffer.from(path.slice(0, path.lastIndexOf("/")), "utf8");
  const fits = dir.length <= DIR_BYTES;
  if (fits) dir.copy(dirs, slot * DIR_BYTES);
  Atomics.store(cells, at + S_DIR_LENGTH, fits ? dir.length : 0);
  Atomics.store(cells, at + S_FD, fd);
  Atomics.store(cells, at + S_USED_AT, secondsOf(base, now));
  return { slot, gen: Atomics.load(cells, at + S_GEN) };
}

/** A slot of an entry the sweeper closed (or is closing): free, or about to be. */
function sweptSlot(entry: Kept): void {
  if (registry !== undefined && entry.slot >= 0) registry.freed.push(entry.slot);
}

/** Takes the entry's descriptor for use (its slot BUSY); false when the sweeper closed it. */
function acquire(entry: Kept): boolean {
  if (registry === undefined || entry.slot < 0) return true;
  const at = entry.slot * S_FIELDS;
  if (Atomics.compareExchange(registry.cells, at + S_STATE, IDLE, BUSY) !== IDLE) return false;
  if (Atomics.load(registry.cells, at + S_GEN) === entry.gen) return true;
  // Closed and taken again by another descriptor of this thread meanwhile: not ours.
  Atomics.store(registry.cells, at + S_STATE, IDLE);
  return false;
}

/** Gives an acquired descriptor back, read at `now`. */
function putBack(entry: Kept, now: number): void {
  entry.usedAt = now;
  if (registry === undefined || entry.slot < 0) return;
  const at = entry.slot * S_FIELDS;
  Atomics.store(registry.cells, at + S_USED_AT, secondsOf(registry.base, now));
  Atomics.store(registry.cells, at + S_STATE, IDLE);
}

/** Closes an acquired descriptor and frees its slot. */
function closeAcquired(entry: Kept): void {
  try {
    closeSync(entry.fd);
  } catch {
    // Already closed: nothing held.
  }
  if (registry === undefined || entry.slot < 0) return;
  const at = entry.slot * S_FIELDS;
  Atomics.add(registry.cells, at + S_GEN, 1);
  Atomics.store(registry.cells, at + S_STATE, FREE);
  registry.freed.push(entry.slot);
}

function forget(path: string, entry: Kept): void {
  kept.delete(path);
  // Not acquired: the sweeper closed it already, or is closing it.
  if (acquire(entry)) closeAcquired(entry);
  else sweptSlot(entry);
}

function closeIdle(now: number): void {
  for (const [path, entry] of kept) {
    if (now - entry.usedAt < KEPT_IDLE_MS) break;
    forget(path, entry);
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
    kept.delete(path);
    if (acquire(entry)) {
      try {
        const text = readAll(entry.fd, true);
        putBack(entry, now);
        kept.set(path, entry);
        return { text, opened: false };
      } catch (err) {
        closeAcquired(entry);
        if (!REOPEN.has(errorCode(err) ?? "")) throw err;
      }
    } else {
      // The service closed it (idle, or its cgroup gone): opened again below.
      sweptSlot(entry);
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
      const [oldest, old] = kept.entries().next().value as [string, Kept];
      forget(oldest, old);
    }
    return { text: readSmallFile(path, true), opened: true };
  }
  if (kept.size >= keptLimit) {
    const [oldest, old] = kept.entries().next().value as [string, Kept];
    forget(oldest, old);
  }
  const fresh: Kept = { fd: opened, usedAt: now, ...register(opened, path, now) };
  let text: string;
  try {
    text = readAll(opened, true);
  } catch (err) {
    closeAcquired(fresh);
    throw err;
  }
  // No slot left to register it in: not kept, since nobody could close it when idle.
  if (registry !== undefined && fresh.slot < 0) closeAcquired(fresh);
  else {
    putBack(fresh, now);
    kept.set(path, fresh);
  }
  return { text, opened: true };
}

/**
 * The service thread's side of the registry: every few seconds, closes the descriptors the
 * serving threads keep that were not read for KEPT_IDLE_MS or whose directory (a cgroup, a
 * process) is gone, whether or not those threads are serving anything meanwhile.
 */
export class KeptSweeper {
  private readonly cells: Int32Array;
  private readonly dirs: Buffer;

  constructor(private readonly buffers: KeptRegistryBuffers) {
    this.cells = new Int32Array(buffers.cells);
    this.dirs = Buffer.from(buffers.dirs);
  }

  /** Closes what is idle or gone; returns how many it closed. */
  sweep(now = Date.now()): number {
    const { cells, dirs } = this;
    const seconds = secondsOf(this.buffers.base, now);
    const present = new Map<string, boolean>();
    let closed = 0;
    const slots = this.buffers.threads * this.buffers.slotsPerThread;
    for (let slot = 0; slot < slots; slot++) {
      const at = slot * S_FIELDS;
      if (Atomics.load(cells, at + S_STATE) !== IDLE) continue;
      let close = (seconds - Atomics.load(cells, at + S_USED_AT)) * 1000 >= KEPT_IDLE_MS;
      const dirLength = Atomics.load(cells, at + S_DIR_LENGTH);
      if (!close && dirLength > 0) {
        const dir = dirs.toString("utf8", slot * DIR_BYTES, slot * DIR_BYTES + dirLength);
        let exists = present.get(dir);
        if (exists === undefined) present.set(dir, (exists = existsSync(dir)));
        close = !exists;
      }
      if (!close || Atomics.compareExchange(cells, at + S_STATE, IDLE, BUSY) !== IDLE) continue;
      try {
        closeSync(Atomics.load(cells, at + S_FD));
      } catch {
        // Already closed: nothing held.
      }
      Atomics.add(cells, at + S_GEN, 1);
      Atomics.store(cells, at + S_STATE, FREE);
      closed++;
    }
    return closed;
  }
}
