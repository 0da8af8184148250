// Who is reading: pid → the container whose numbers it should see, by the container rule
// (ARCHITECTURE.md, "Who is reading: the container rule"; how the ns init is found:
// fuse/cgroup/README.md).
import { readdirSync } from "node:fs";
import { CONTROLLERS, type CgroupLayout, type Controller } from "./layout.js";
import { readMembership, readReaderMembership, type Membership } from "./membership.js";
import { readPidNs, readStat, readStatus, type ProcessStatus } from "./process.js";
import { CgroupReadError, isGone } from "./read.js";

export type CgroupPaths = Record<Controller, string>;

export interface Caller {
  pid: number;
  /** readlink of /proc/<pid>/ns/pid, e.g. "pid:[4026532001]". */
  pidNs: string;
  /** The reader shares procview's pid namespace (host processes, --pid=host containers). */
  sameNsAsSelf: boolean;
  /** Host pid (as numbered in procRoot) of the init of the reader's pid namespace. */
  nsInitPid: number;
  /** Start time of that init, clock ticks after boot (field 22 of its stat): the container's "boot". */
  nsInitStartTicks: number;
  /** The reader's own cgroup per controller. */
  ownPaths: CgroupPaths;
  /** The container cgroup per controller, after the container rule: what the numbers are read from. */
  paths: CgroupPaths;
  /** The container's cgroup in the cgroup2 hierarchy, after the same rule (where PSI is kept, even
   * on hybrid hosts); null when there is no cgroup2 hierarchy or the reader is in none. */
  unified: string | null;
  /** Same key ⇔ same container paths ⇔ same cgroup numbers. Cache key for numbers and loads. */
  key: string;
  /** memory, cpu and cpuset all at the root: the server passes host files through. */
  isHost: boolean;
}

/** What is known of a pid namespace's init: stable while the namespace lives. */
export interface NsInit {
  pid: number;
  startTicks: number;
  /** null in procview's own namespace, where the init's cgroup plays no part. */
  membership: Membership | null;
}

/** Lets a long-running caller of resolveCaller skip the PPid walk for a namespace it saw recently. */
export interface NsInitCache {
  get(pidNs: string): NsInit | undefined;
  set(pidNs: string, init: NsInit): void;
}

export interface CallerOptions {
  layout: CgroupLayout;
  procRoot?: string;
  /** procview's own pid namespace; default readlink <procRoot>/self/ns/pid. Pass it to save the readlink per call. */
  selfPidNs?: string;
  nsInits?: NsInitCache;
  /** pid → its pid namespace, for a long-running caller: kept only while the reader's cgroup file
   * is read through the descriptor opened on the same process (a process never changes its own
   * pid namespace), which saves the readlink per open. */
  pidNamespaces?: Map<number, string>;
}

/** null when the reader (or its namespace's init) vanished while being resolved. */
export function resolveCaller(pid: number, options: CallerOptions): Caller | null {
  const procRoot = options.procRoot ?? "/proc";
  const { layout } = options;
  const selfPidNs = options.selfPidNs ?? readPidNs(procRoot, "self");
  if (selfPidNs === null) throw new CgroupReadError(`${procRoot}/self/ns/pid`, "procview's own pid namespace is unreadable");

  // The reader's membership is read every time: a process can move to another cgroup at any moment.
  const read = readReaderMembership(procRoot, pid);
  if (read === null) return null;
  const { membership } = read;
  const known = options.pidNamespaces;
  // Read after the descriptor was opened: if the pid was reused in between, the descriptor names
  // the exited process, fails on the next open, and both are read afresh.
  let pidNs = read.opened ? undefined : known?.get(pid);
  if (pidNs === undefined) {
    const linked = readPidNs(procRoot, pid);
    if (linked === null) return null;
    pidNs = linked;
    if (known !== undefined) {
      if (known.size >= 16_384) known.clear();
      known.set(pid, pidNs);
    }
  }
  const ownPaths = pathsOf(layout, membership);
  const sameNsAsSelf = pidNs === selfPidNs;

  const init = options.nsInits?.get(pidNs) ?? lookUpNsInit(procRoot, pid, pidNs, sameNsAsSelf);
  if (init === null) return null;
  options.nsInits?.set(pidNs, init);

  let paths = ownPaths;
  let unified = layout.unifiedDir === null ? null : membership.v2;
  if (init.membership !== null && init.pid !== pid) {
    paths = containerPaths(ownPaths, pathsOf(layout, init.membership));
    const initUnified = init.membership.v2;
    if (unified !== null && initUnified !== null && isAncestorOrSelf(initUnified, unified)) unified = initUnified;
  }
  return {
    pid,
    pidNs,
    sameNsAsSelf,
    nsInitPid: init.pid,
    nsInitStartTicks: init.startTicks,
    ownPaths,
    paths,
    unified,
    key: keyOf(paths, unified),
    isHost: paths.memory === "/" && paths.cpu === "/" && paths.cpuset === "/",
  };
}

function lookUpNsInit(procRoot: string, pid: number, pidNs: string, sameNsAsSelf: boolean): NsInit | null {
  const initPid = findNsInit(procRoot, pid, pidNs);
  if (initPid === null) return null;
  const initStat = readStat(procRoot, initPid);
  if (initStat === null) return null;
  if (sameNsAsSelf) return { pid: initPid, startTicks: initStat.startTicks, membership: null };
  const initMembership = readMembership(procRoot, initPid);
  if (initMembership === null) return null;
  return { pid: initPid, startTicks: initStat.startTicks, membership: initMembership };
}

/** Per controller: the init's path when it is an ancestor-or-equal of the reader's, else the reader's. */
export function containerPaths(own: CgroupPaths, init: CgroupPaths): CgroupPaths {
  const out = {} as CgroupPaths;
  for (const c of CONTROLLERS) out[c] = isAncestorOrSelf(init[c], own[c]) ? init[c] : own[c];
  return out;
}

export function isAncestorOrSelf(ancestor: string, path: string): boolean {
  if (ancestor === path || ancestor === "/") return true;
  return path.length > ancestor.length && path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 47;
}

/** Membership lines → a path for each of our controllers ("/" for controllers that are not mounted). */
export function pathsOf(layout: CgroupLayout, membership: Membership): CgroupPaths {
  const out = {} as CgroupPaths;
  for (const c of CONTROLLERS) {
    const mount = layout.mounts[c];
    if (mount === undefined) out[c] = "/";
    else if (mount.version === 2) out[c] = membership.v2 ?? "/";
    else out[c] = membership.v1.get(c) ?? "/";
  }
  return out;
}

/**
 * Usually every controller and the cgroup2 path (`unified`, when given) agree, and the key is that
 * path; otherwise a JSON array in CONTROLLERS order, the cgroup2 path last. A path starts with "/"
 * and the array with "[", so the two never collide.
 */
export function keyOf(paths: CgroupPaths, unified?: string | null): string {
  const first = paths[CONTROLLERS[0]];
  if (CONTROLLERS.every((c) => paths[c] === first) && (unified === undefined || unified === first)) return first;
  const all: (string | null)[] = CONTROLLERS.map((c) => paths[c]);
  if (unified !== undefined) all.push(unified);
  return JSON.stringify(all);
}

const MAX_WALK = 4096;

/**
 * Host pid of the init (innermost NSpid 1) of `pid`'s pid namespace. Walks PPid upward while the
 * ancestors stay in the namespace (same NSpid depth: a child's pid ns is its parent's or a
 * descendant of it, so equal depth means the same ns). A process that entered the namespace by
 * setns (podman exec, a pod's app container started by its shim) has its parent outside; then the
 * procfs is scanned for the namespace's init (slow path, once per such reader). null = gone.
 */
export function findNsInit(procRoot: string, pid: number, pidNs: string): number | null {
  let status: ProcessStatus | null = readStatus(procRoot, pid);
  if (status === null) return null;
  const depth = status.nspid.length;
  if (status.nspid[depth - 1] === 1) return pid;
  // Depth 1 is the procfs's own pid namespace, whose init is pid 1 there.
  if (depth === 1) return 1;
  for (let steps = 0; steps < MAX_WALK; steps++) {
    const parent = status.ppid;
    if (parent <= 0) break;
    const parentStatus = readStatus(procRoot, parent);
    if (parentStatus === null || parentStatus.nspid.length < depth) break;
    if (parentStatus.nspid[depth - 1] === 1) return parent;
    status = parentStatus;
  }
  return scanForNsInit(procRoot, pidNs);
}

export function scanForNsInit(procRoot: string, pidNs: string): number | null {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch (err) {
    throw new CgroupReadError(procRoot, `cannot list: ${(err as Error).message}`, { cause: err });
  }
  for (const name of names) {
    const code = name.charCodeAt(0);
    if (code < 48 || code > 57) continue;
    const pid = Number(name);
    // Processes we may not inspect (EACCES on a sandbox's or another user namespace's pid 1)
    // cannot be the init we look for in a namespace we can see into: skip them.
    let ns: string | null;
    try {
      ns = readPidNs(procRoot, pid);
    } catch {
      continue;
    }
    if (ns !== pidNs) continue;
    let status: ProcessStatus | null;
    try {
      status = readStatus(procRoot, pid);
    } catch (err) {
      if (isGone(err)) continue;
      throw err;
    }
    if (status !== null && status.nspid[status.nspid.length - 1] === 1) return pid;
  }
  return null;
}
