// Who is reading: pid → the container whose numbers it should see, by the container rule
// (ARCHITECTURE.md, "Who is reading: the container rule"; how the ns init is found:
// fuse/cgroup/README.md).
//
// The container rule in short. LXCFS takes the cgroup of the init process of the reader's pid namespace.
// That is wrong for Kubernetes pods sharing one pid namespace: "pause" is the init and sits in a
// sibling cgroup, so every container would see pause's (empty) numbers. Ours, per controller:
// if the reader is NOT in procview's pid namespace and the container cgroup of its namespace's
// init is an ancestor of (or equal to) the reader's cgroup, use that container cgroup, so a
// reader in a sub-cgroup (a service in system.slice, systemd itself in init.scope) still sees
// the whole container; otherwise use the reader's own cgroup (shared-pid-ns pods: pause is a
// sibling, each container sees itself; and processes in procview's own pid namespace, e.g.
// --pid=host containers, see their own cgroup).
//
// The init's container cgroup is not always the init's own cgroup. On cgroup v2 no process may
// sit in a cgroup whose children have controllers enabled, so systemd as a container's init
// moves itself into <container>/init.scope (runc and crun put exec'd processes there too), and
// init.scope is no ancestor of <container>/system.slice/*.service. We take the container from
// the init's cgroup namespace instead: a container engine creates it rooted at the container's
// cgroup, and the init's cgroup mount shows that root in /proc/<init>/mountinfo, as a path of
// procview's own namespace (the kernel prints it relative to the reader's). That holds for any
// name the engine gives the payload's cgroup (crun's "container" sub-cgroup, LXD's, systemd's),
// and for nested layouts, where stripping a known suffix would guess. When the init shares
// procview's cgroup namespace, or mounts no cgroup filesystem, a trailing /init.scope is
// pruned from its cgroup, as LXCFS does.
import { join } from "node:path";
import { parseMountinfo } from "../../core/mountinfo.js";
import { CONTROLLERS, controllersOfMountName, type CgroupLayout, type Controller } from "./layout.js";
import { readMembership, readReaderMembership, withoutDeleted, type Membership } from "./membership.js";
import { readCgroupNs, readPidNs, readStat, readStatus, type ProcessStatus } from "./process.js";
import { CgroupReadError, isGone, listOptional, readOptional } from "./read.js";

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
  /**
   * The server passes host files through: memory, cpu and cpuset all at the root, or (cgroup v2)
   * the reader shares procview's pid and cgroup namespaces. systemd puts every host process in
   * a unit (init.scope, *.service, session scopes), never in the root; on v2 every container
   * engine gives containers a private cgroup namespace by default, so sharing procview's marks
   * a host process. (On v1 engines share the host's cgroup namespace by default, and there only
   * the root cgroup marks the host.)
   */
  isHost: boolean;
}

/** What is known of a pid namespace's init: stable while the namespace lives. */
export interface NsInit {
  pid: number;
  startTicks: number;
  /** The init's container cgroup per controller and in the cgroup2 hierarchy (see the container
   * rule above); null in procview's own namespace, where the init's cgroup plays no part. */
  container: { paths: CgroupPaths; unified: string | null } | null;
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
  /** procview's own cgroup namespace; default readlink <procRoot>/self/ns/cgroup. */
  selfCgroupNs?: string | null;
  /** An init's cgroup namespace root could not be read (not gone: EACCES, EIO, …); the rule
   * falls back to pruning init.scope. Told so that it can be logged. */
  onInitNamespaceError?: (err: CgroupReadError) => void;
  nsInits?: NsInitCache;
  /** pid → its pid namespace, for a long-running caller: kept only while the reader's cgroup file
   * is read through the descriptor opened on the same process (a process never changes its own
   * pid namespace), which saves the readlink per open. */
  pidNamespaces?: Map<number, string>;
}

/**
 * null when the reader (or its namespace's init) vanished while being resolved, or when its
 * cgroup lies outside procview's cgroup namespace (the kernel shows it as "/../…"): then no
 * cgroup of ours is its.
 */
export function resolveCaller(pid: number, options: CallerOptions): Caller | null {
  const procRoot = options.procRoot ?? "/proc";
  const { layout } = options;
  const selfPidNs = options.selfPidNs ?? readPidNs(procRoot, "self");
  if (selfPidNs === null) throw new CgroupReadError(`${procRoot}/self/ns/pid`, "procview's own pid namespace is unreadable");
  const selfCgroupNs = options.selfCgroupNs !== undefined ? options.selfCgroupNs : readCgroupNs(procRoot, "self");

  // The reader's membership is read every time: a process can move to another cgroup at any moment.
  const read = readReaderMembership(procRoot, pid);
  if (read === null) return null;
  const { membership } = read;
  const ownPaths = pathsOf(layout, membership);
  if (outsideNamespace(ownPaths, membership.v2)) return null;
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
  const sameNsAsSelf = pidNs === selfPidNs;

  const init = options.nsInits?.get(pidNs) ?? lookUpNsInit(procRoot, layout, pid, pidNs, sameNsAsSelf, selfCgroupNs, options);
  if (init === null) return null;
  options.nsInits?.set(pidNs, init);

  const paths = init.container === null ? ownPaths : containerPaths(ownPaths, init.container.paths);
  let unified = layout.unifiedDir === null ? null : membership.v2;
  const initUnified = init.container?.unified ?? null;
  if (unified !== null && initUnified !== null && isAncestorOrSelf(initUnified, unified)) unified = initUnified;
  let isHost = paths.memory === "/" && paths.cpu === "/" && paths.cpuset === "/";
  if (!isHost && sameNsAsSelf && layout.mode === "v2" && selfCgroupNs !== null) {
    const cgroupNs = readCgroupNs(procRoot, pid);
    if (cgroupNs === null) return null;
    isHost = cgroupNs === selfCgroupNs;
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
    isHost,
  };
}

function lookUpNsInit(
  procRoot: string,
  layout: CgroupLayout,
  pid: number,
  pidNs: string,
  sameNsAsSelf: boolean,
  selfCgroupNs: string | null,
  options: CallerOptions,
): NsInit | null {
  const initPid = findNsInit(procRoot, pid, pidNs);
  if (initPid === null) return null;
  const initStat = readStat(procRoot, initPid);
  if (initStat === null) return null;
  if (sameNsAsSelf) return { pid: initPid, startTicks: initStat.startTicks, container: null };
  const initMembership = readMembership(procRoot, initPid);
  if (initMembership === null) return null;
  const initPaths = pathsOf(layout, initMembership);
  const initUnified = layout.unifiedDir === null ? null : initMembership.v2;
  // An init outside our cgroup namespace cannot contain any reader we can name.
  if (outsideNamespace(initPaths, initUnified)) return { pid: initPid, startTicks: initStat.startTicks, container: null };
  let roots: NamespaceRoots | null = null;
  try {
    roots = cgroupNamespaceRoots(procRoot, layout, initPid, initPaths, initUnified, selfCgroupNs);
  } catch (err) {
    if (!(err instanceof CgroupReadError)) throw err;
    options.onInitNamespaceError?.(err);
  }
  const paths = {} as CgroupPaths;
  for (const c of CONTROLLERS) paths[c] = roots?.paths[c] ?? withoutInitScope(initPaths[c]);
  const unified = initUnified === null ? null : (roots?.unified ?? withoutInitScope(initUnified));
  return { pid: initPid, startTicks: initStat.startTicks, container: { paths, unified } };
}

const INIT_SCOPE = "/init.scope";

/** "/c/init.scope" → "/c": where systemd as a container's init puts itself. Never up to the root. */
export function withoutInitScope(path: string): string {
  if (!path.endsWith(INIT_SCOPE) || path.length <= INIT_SCOPE.length) return path;
  return path.slice(0, -INIT_SCOPE.length);
}

/** Where a cgroup namespace is rooted, per controller and in the cgroup2 hierarchy. */
export interface NamespaceRoots {
  paths: Partial<CgroupPaths>;
  unified?: string;
}

/**
 * The root of `pid`'s cgroup namespace as procview's namespace names it, per controller and in
 * the cgroup2 hierarchy: the root of its cgroup mounts in its mountinfo (cgroup2 for the unified
 * hierarchy and the controllers on it, the v1 mount naming a controller otherwise). Of several (a
 * mount inherited from the host shows "/"), the deepest that is an ancestor-or-self of the
 * init's cgroup. null when the init shares our cgroup namespace (its root is ours and says
 * nothing) or is gone; an entry is missing when no mount of it says anything.
 */
export function cgroupNamespaceRoots(
  procRoot: string,
  layout: CgroupLayout,
  pid: number,
  initPaths: CgroupPaths,
  initUnified: string | null,
  selfCgroupNs: string | null,
): NamespaceRoots | null {
  const ns = readCgroupNs(procRoot, pid);
  if (ns === null || ns === selfCgroupNs) return null;
  const text = readOptional(join(procRoot, String(pid), "mountinfo"));
  if (text === null) return null;
  const roots: NamespaceRoots = { paths: {} };
  const deeper = (root: string, path: string | null, best: string | undefined) =>
    path !== null && isAncestorOrSelf(root, path) && (best === undefined || root.length > best.length);
  for (const mount of parseMountinfo(text)) {
    let controllers: readonly Controller[];
    if (mount.fstype === "cgroup2") controllers = CONTROLLERS.filter((c) => layout.mounts[c]?.version === 2);
    else if (mount.fstype === "cgroup")
      controllers = controllersOfMountName(mount.superOptions).filter((c) => layout.mounts[c]?.version === 1);
    else continue;
    const root = withoutDeleted(mount.root);
    if (root.startsWith("/..")) continue;
    if (mount.fstype === "cgroup2" && deeper(root, initUnified, roots.unified)) roots.unified = root;
    for (const c of controllers) if (deeper(root, initPaths[c], roots.paths[c])) roots.paths[c] = root;
  }
  return roots;
}

/** A path the kernel shows as "/.." or below lies outside the reading process's cgroup namespace. */
function outsideNamespace(paths: CgroupPaths, unified: string | null): boolean {
  return CONTROLLERS.some((c) => paths[c].startsWith("/..")) || (unified?.startsWith("/..") ?? false);
}

/** Per controller: the init's container path when it is an ancestor-or-equal of the reader's, else the reader's. */
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
  const entries = listOptional(procRoot);
  if (entries === null) return null;
  for (const { name } of entries) {
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
