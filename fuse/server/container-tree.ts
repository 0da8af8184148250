// The per-container tree: <mountpoint>/containers/<id>/… on a FUSE connection of its own, whose
// files the kernel serves from its page cache. An open costs no request (OPEN is answered
// ENOSYS, after which the kernel opens every file of the connection by itself), a repeated read
// none either: only the first read after an invalidation reaches procview.
//
// The page cache belongs to the inode, so a file holds one text for every reader: the view of
// the container its id names (core/registry.ts), whoever reads it. The kernel keeps a file's
// size and its pages apart, and copies a page up to the size it holds, so the two must always
// come from the same rendering:
// - a file's rendering (its version) is kept and pinned from its first request after an
//   invalidation until the next: attributes and every read are answered from it. Attributes
//   carry its exact size, and its time as mtime (the connection asks the kernel to drop a file's
//   pages itself when a refresh brings a new mtime). A version whose pages nobody read yet is
//   rendered again when asked for 10 ms after its rendering;
// - every file served is invalidated (FUSE_NOTIFY_INVAL_INODE) by the invalidation thread
//   (invalidator.ts) --cache-ms after its numbers were read; then its pages and attributes are
//   gone, and the next request renders a new version;
// - an open after an invalidation refreshes the attributes (the kernel checks the mode itself:
//   default_permissions), and so does a read() past the size held, so a file opened again, or
//   read again from the start, learns the new size before any page is read. A read from the
//   page cache that comes first (sendfile or splice on a descriptor kept open, a mapping) uses
//   the size the kernel holds; a read answered with fewer bytes than asked brings that size
//   down, but nothing brings it up. So when the version is longer than the size the kernel may
//   hold, the size is raised first (a byte stored far out: FUSE_NOTIFY_STORE) and the read is
//   answered EINTR: the kernel reads the page again (readahead failed, so read_folio), in a
//   request made after the raise, whose short answer sets the size exactly. A raise whose read
//   never comes (a readahead nobody reads: posix_fadvise) leaves the raised size until the next
//   attributes or read; a read at or past the version's end then (a mapping of a far page) is
//   answered short, never with another raise, which would wait on that very page. An invalidation
//   makes the kernel ignore the size an answer already under way brings, so none crosses one:
//   a file is held (invalidation.ts) from the answer of its attributes until its pages are read,
//   and from a raise until the read that follows; when one is under way already, the read is
//   answered EINTR and comes again. The invariant: the size the kernel holds is the length of
//   the version whose pages it holds whenever a reader copies them; a size raised past it and
//   not brought down shows as NUL bytes up to the raised size. A short answer to a read of one
//   page (read_folio: the read after an EINTR, above all) is applied by the reader's task once
//   it runs again, after the answer was written, and skipped when an invalidation came first,
//   so a file whose size such an answer lowers stays held SETTLE_MS more (a file whose
//   invalidation was due when it was read was invalidated at once, and a reader that waited for
//   its CPU got the text and NUL bytes up to the page's end);
// - a file holds one text for all its readers, so a reader whose reads of one pass straddle an
//   invalidation may get parts of two versions. Requests through a file already open get the
//   version just dropped for a few ms more (pinnedOf), which keeps one reader's pass whole;
//   another reader opening the file meanwhile renders a new version for everyone;
// - after another serving process served the tree, what the kernel holds is unknown: every
//   file's attributes are invalidated before this one serves, its pages queued for
//   invalidation, and its size taken as unknown (so its first read raises it).
import type { Timestamp, NodeAttributes } from "../kernel/encode.js";
import type { Notifier } from "../kernel/notify.js";
import type { FuseOps, OpenReply } from "../kernel/request-loop.js";
import { Errno, FUSE_ROOT_ID, OpenFlag, S_IFDIR, SPLICE_SIZE, W_OK } from "../kernel/protocol.js";
import type { Caller } from "../cgroup/caller.js";
import type { Tree, TreeNode } from "./tree.js";
import { containerHash } from "./tree.js";
import type { ContainerRenderer } from "./render.js";
import type { InvalidationQueue } from "./invalidation.js";
import type { SharedStats } from "./stats.js";
import { CONTAINER_ID, type ViewName } from "../../core/layout.js";
import { registeredIds, registration, registrationStamp, type Registration } from "../../core/registry.js";
import { errorMessage } from "../../core/errors.js";

/** How long the kernel keeps a directory's entry and attributes: until told otherwise. */
const VALID_SECONDS = 3600;
/** A registration is read again, and its container resolved again, at most this often (a
 * container whose cgroup cannot be told yet, or is gone, at every request), and whenever its
 * record changed (a re-registration, an id reused: checked at every use, a stat). Resolving
 * costs ~0.5 ms, which a file read once a second would otherwise pay at every read. */
const RESOLVE_MS = 10_000;
/** A file asked for through an open file this soon after it was invalidated (a read that goes on
 * where the last one ended, or the one that finds the end of the file) gets the rest of the
 * version just dropped, not the start of a new one: see resumable below. */
const RESUME_MS = 20;
/** A version nobody read the pages of is rendered again after this long (see pinnedOf). */
const UNREAD_MS = 10;
/** How long the invalidation thread leaves a file alone, waiting for the read that follows its
 * attributes or its raised size (a stat alone is followed by none). */
const HOLD_MS = 250;
/** How long a file stays held after a short answer that lowers its size, for the kernel to apply
 * it (see afterReply): the reader's task must run again first. */
const SETTLE_MS = 20;
/** How long the serving thread waits, after answering a read EINTR because the file's invalidation
 * was under way, for that invalidation to end (see afterReply). */
const NOTIFY_WAIT_MS = 10;
/** A pause of that wait (Atomics.wait on a cell nobody notifies). */
const pauseCell = new Int32Array(new SharedArrayBuffer(4));
const NOTIFY_POLL_MS = 0.05;
/** The registry is listed again, for an unknown container hash, at most this often. */
const RELIST_MS = 100;

/** root's alone (the kernel enforces it: default_permissions): no other user lists the
 * registered containers or opens their files by path. A container reads its files through its
 * binds, which root makes and whose opening crosses no directory of this tree. */
const ROOT_ATTR: NodeAttributes = { ino: FUSE_ROOT_ID, mode: S_IFDIR | 0o700, nlink: 2, size: 0 };
const NEWLINE = Buffer.from("\n");

interface Version {
  bytes: Buffer;
  /** When it was rendered (ms since the epoch). */
  at: number;
  mtime: Timestamp;
}

interface FileState {
  ino: number;
  view: ViewName;
  id: string;
  slot: number;
  /** What every request for the file is answered from until it is invalidated. */
  pinned: Version | null;
  /** The version last read into the kernel's page cache. */
  filled: Version | null;
  /** The version the last invalidation dropped, and when it was first dropped. */
  dropped: Version | null;
  droppedAt: number;
  /** Bounds of the size the kernel holds for the file (an answer the kernel may have discarded,
   * because the file was invalidated meanwhile, widens them): [0, SPLICE_SIZE] when unknown. */
  kernelMin: number;
  kernelMax: number;
}

interface Known {
  registration: Registration;
  /** The record it was read from (registrationStamp). */
  stamp: string | null;
  caller: Caller | null;
  resolvedAt: number;
}

export interface ContainerTreeOptions {
  tree: Tree;
  /** The registry directory (core/registry.ts). */
  registry: string;
  render: ContainerRenderer;
  notifier: Notifier;
  queue: InvalidationQueue;
  /** Slots of the queue: files tracked at once. */
  slots: number;
  /** How long the kernel may keep a file after its rendering. */
  keepMs: number;
  stats: SharedStats;
  log: (line: string) => void;
  now?: () => number;
}

export interface ContainerTree extends FuseOps {
  /** Takes the invalidation thread's news; called before each request. */
  beforeRequest(): void;
  /** Called once each answer is written. */
  afterReply(): void;
  /** Another serving process may have served the tree: forget what the kernel holds. */
  afterPredecessor(): void;
}

export function createContainerTree(options: ContainerTreeOptions): ContainerTree {
  const { tree, notifier, queue, render, stats, log } = options;
  /** A file's entry and attributes: as long as the version may be kept (the kernel's jiffies make
   * it a few ms more), at least a millisecond. */
  const fileValidSeconds = Math.max(options.keepMs, 1) / 1000;
  const now = options.now ?? Date.now;
  const files = new Map<number, FileState>();
  /** Slots are handed out in order (the table grows with the files actually read), then reused. */
  const bySlot: (FileState | undefined)[] = [];
  const containers = new Map<string, Known>();
  const idsByHash = new Map<number, string>();
  let listedAt = -Infinity;
  let lastMtime = 0;
  const reported = new Set<string>();
  /** Files read by the answer just sent: held (left alone by the invalidation thread) until it
   * is taken, and released then (the slot), or SETTLE_MS later when it lowers the size (-1 - slot). */
  const settling: number[] = [];
  /** The file whose read was just answered EINTR because its invalidation was under way. */
  let interrupted = -1;

  /** EINTR for a read that met the file's invalidation (see afterReply). */
  const interrupt = (slot: number): number => {
    interrupted = slot;
    return -Errno.EINTR;
  };

  const report = (what: string, err: unknown): void => {
    const line = `${what}: ${errorMessage(err)}`;
    if (reported.has(line)) return;
    if (reported.size > 1000) reported.clear();
    reported.add(line);
    log(line);
  };

  /** Versions get distinct, increasing times: the kernel drops a file's pages when it sees a new one. */
  const mtimeOf = (at: number): Timestamp => {
    const nanos = Math.max(at * 1e6, lastMtime + 1);
    lastMtime = nanos;
    return { seconds: Math.floor(nanos / 1e9), nanoseconds: nanos % 1e9 };
  };

  /** Whether `held` keeps its hash against `id`: registrations written before the registry
   * refused colliding ids (or by hand) may share one; the earlier keeps it, the other gets no
   * directory (ENOENT), never the holder's files. */
  const keeps = (held: string, id: string): boolean => {
    try {
      const holder = registration(options.registry, held);
      if (holder === null) return false;
      const kept = holder.at <= (registration(options.registry, id)?.at ?? Infinity);
      const [winner, loser] = kept ? [held, id] : [id, held];
      report(`container ${loser}`, new Error(`its node ids are container ${winner}'s: it has no directory of its own`));
      return kept;
    } catch (err) {
      report(`reading the registration of container ${held}`, err);
      return true;
    }
  };

  /** `registered`: every id registered, when the caller listed them; otherwise the registry is
   * listed for a hash seen for the first time. */
  const learn = (id: string, registered?: readonly string[]): void => {
    const hash = containerHash(id);
    const held =
      idsByHash.get(hash) ?? (registered ?? registeredIds(options.registry)).find((other) => other !== id && containerHash(other) === hash);
    idsByHash.set(hash, held === undefined || held === id || !keeps(held, id) ? id : held);
  };

  /** The container id a node id belongs to; undefined when no registered container has its hash. */
  const idOf = (ino: number): string | undefined => {
    const hash = tree.hashOf(ino);
    if (hash === undefined) return undefined;
    const known = idsByHash.get(hash);
    if (known !== undefined || now() - listedAt < RELIST_MS) return known;
    // A file the kernel kept from before this process: its id is in the registry.
    listedAt = now();
    const registered = registeredIds(options.registry);
    for (const id of registered) learn(id, registered);
    return idsByHash.get(hash);
  };

  /** The container `id` names: undefined when it is not registered, null while it cannot be told. */
  const containerOf = (id: string): Caller | null | undefined => {
    const known = containers.get(id);
    const at = now();
    /** What the registry says, or what was known when it cannot be read. */
    const recorded = <T>(read: () => T, fallback: T): T => {
      try {
        return read();
      } catch (err) {
        report(`reading the registration of container ${id}`, err);
        return fallback;
      }
    };
    const stamp = recorded(() => registrationStamp(options.registry, id), known?.stamp ?? null);
    if (known !== undefined && known.caller !== null && at - known.resolvedAt < RESOLVE_MS && stamp === known.stamp) return known.caller;
    const found = recorded(() => registration(options.registry, id), known?.registration ?? null);
    if (found === null) {
      containers.delete(id);
      return undefined;
    }
    let caller: Caller | null = null;
    try {
      caller = render.resolve(found);
    } catch (err) {
      report(`finding container ${id}`, err);
    }
    if (containers.size >= 16_384) containers.clear();
    containers.set(id, { registration: found, stamp, caller, resolvedAt: at });
    learn(id);
    return caller;
  };

  const slotFor = (): number | undefined => {
    if (bySlot.length < options.slots) return bySlot.length;
    // The oldest file the kernel holds nothing of ours for.
    for (const state of files.values()) {
      if (state.pinned !== null || queue.isQueued(state.slot)) continue;
      files.delete(state.ino);
      bySlot[state.slot] = undefined;
      queue.reset(state.slot);
      return state.slot;
    }
    return undefined;
  };

  const stateOf = (ino: number): FileState | undefined => {
    const known = files.get(ino);
    if (known !== undefined) {
      // Most recently used last: evicted last.
      files.delete(ino);
      files.set(ino, known);
      return known;
    }
    const view = tree.node(ino)?.view;
    const id = view === undefined ? undefined : idOf(ino);
    if (view === undefined || id === undefined) return undefined;
    const slot = slotFor();
    if (slot === undefined) {
      report("the per-container tree", new Error(`more than ${options.slots} files are cached at once`));
      return undefined;
    }
    const state: FileState = {
      ino,
      view,
      id,
      slot,
      pinned: null,
      filled: null,
      dropped: null,
      droppedAt: 0,
      kernelMin: 0,
      kernelMax: SPLICE_SIZE,
    };
    files.set(ino, state);
    bySlot[slot] = state;
    return state;
  };

  const renderVersion = (state: FileState): Version | null => {
    const container = containerOf(state.id);
    if (container === undefined || container === null) return null;
    const text = render.render(state.view, container);
    const at = now();
    stats.add("fills");
    return { bytes: Buffer.from(text), at, mtime: mtimeOf(at) };
  };

  /**
   * The version requests are answered from, rendered if there is none. `resumable`: the request
   * comes through a file already open (a READ: every open asks for the attributes first, by path,
   * once they were invalidated; a GETATTR through a file), so the reader may be in the middle of
   * a pass over the version just dropped. It gets that version again for RESUME_MS after the
   * drop, so that a pass whose reads straddle an invalidation (the read that finds the end of the
   * file, above all) sees one text; it is invalidated again when that time is up.
   */
  const pinnedOf = (state: FileState, resumable: boolean): Version | null => {
    // A version that only ever gave the file's attributes is no text anyone read: one asked for
    // well after it was rendered (a runtime binds the file before it sets the container's limits,
    // and the container reads it later) is rendered again.
    if (state.pinned !== null && state.filled !== state.pinned && now() - state.pinned.at > UNREAD_MS) state.pinned = null;
    if (state.pinned !== null) return state.pinned;
    const resumed = resumable && state.dropped !== null && now() - state.droppedAt < RESUME_MS;
    const version = resumed ? state.dropped : renderVersion(state);
    state.pinned = version;
    return version;
  };

  /** When the kernel must forget what it has of `version`. */
  const deadlineOf = (state: FileState, version: Version): number =>
    version === state.dropped ? state.droppedAt + RESUME_MS : version.at + options.keepMs;

  const due = (state: FileState, version: Version): void => {
    queue.due(state.slot, state.ino, deadlineOf(state, version));
  };

  const fileAttr = (node: TreeNode, ino: number, fromFile: boolean): NodeAttributes | number => {
    const state = stateOf(ino);
    if (state === undefined) return Errno.ENOENT;
    const version = pinnedOf(state, fromFile);
    // Not yet told (a container created, not started): asked again at the next open.
    if (version === null) return { ...node.attr, ino, size: 0, validSeconds: 0 };
    // A size this process knows nothing of: when the kernel holds no inode for the file yet, this
    // answer makes it, with this size. For an inode that exists (bound by a runtime while its
    // container could not be told yet, kept from a predecessor) the answer sets the size unless an
    // invalidation crosses it, so it stays unknown below: the read that follows raises the size
    // and is answered EINTR (see read). The kernel is asked in a way that changes nothing: an
    // invalidation here would make it discard this very answer, and the inode keep size 0.
    if (state.kernelMin === 0 && state.kernelMax === SPLICE_SIZE && !notifier.holds(ino))
      state.kernelMin = state.kernelMax = version.bytes.length;
    state.kernelMin = Math.min(state.kernelMin, version.bytes.length);
    state.kernelMax = Math.max(state.kernelMax, version.bytes.length);
    due(state, version);
    // Its pages are likely read next (an open, a read past the size the kernel held): no
    // invalidation may cross that read (see read), so none begins until it is answered.
    if (state.filled !== version) queue.hold(state.slot, now() + HOLD_MS);
    // The kernel forgets them by itself when the version is due too: a serving process that dies
    // before invalidating it (or a service stopped for good) leaves no file frozen for long.
    return { ...node.attr, ino, size: version.bytes.length, mtime: version.mtime, validSeconds: fileValidSeconds };
  };

  const dirAttr = (node: TreeNode): NodeAttributes => ({ ...node.attr, validSeconds: VALID_SECONDS });

  const attrOf = (ino: number, fromFile: boolean): NodeAttributes | number => {
    if (ino === FUSE_ROOT_ID) return ROOT_ATTR;
    const node = tree.node(ino);
    if (node === undefined || idOf(ino) === undefined) return Errno.ENOENT;
    return node.view ? fileAttr(node, ino, fromFile) : dirAttr(node);
  };

  return {
    lookup(parent, name) {
      if (parent === FUSE_ROOT_ID) {
        if (!CONTAINER_ID.test(name) || containerOf(name) === undefined) return Errno.ENOENT;
        // The node ids are those of `name` only if no other registered id holds its hash.
        if (idOf(tree.containerIno(name)) !== name) return Errno.ENOENT;
        return dirAttr(tree.node(tree.containerIno(name))!);
      }
      const dir = tree.node(parent);
      if (dir === undefined) return Errno.ENOENT;
      if (!dir.children) return Errno.ENOTDIR;
      const child = tree.child(parent, name);
      return child === undefined ? Errno.ENOENT : attrOf(child, false);
    },

    getattr: attrOf,

    // The kernel opens the files of this connection by itself from the first ENOSYS on.
    open: () => Errno.ENOSYS,

    read(_fh, offset, size, out, outOffset, ino) {
      const state = stateOf(ino);
      if (state === undefined) return -Errno.ENOENT;
      const version = pinnedOf(state, true);
      if (version === null) return -Errno.EIO;
      const length = version.bytes.length;
      due(state, version);
      // A read at or past the version's end (a mapping of a page the kernel's size still covers:
      // a raise whose read never came, a predecessor's) is answered short, which sets the size.
      // Never a raise then: the raise stores into the last page of SPLICE_SIZE, which may be the
      // very page this request reads, locked by the kernel until it is answered.
      if (state.kernelMin < length && offset < length) {
        // The kernel may hold a smaller size and would cut the copy there (see above). The raise
        // goes far, not to this version's end: a store of no bytes raises nothing, and one that
        // ends there writes into the page this request reads, which the kernel holds locked
        // until it is answered.
        if (!queue.hold(state.slot, now() + HOLD_MS)) return interrupt(state.slot);
        if (notifier.store(ino, SPLICE_SIZE - 1, NEWLINE) === "done") state.kernelMin = state.kernelMax = SPLICE_SIZE;
        return -Errno.EINTR;
      }
      const count = offset >= length ? 0 : version.bytes.copy(out, outOffset, offset, Math.min(length, offset + size));
      let lowers = false;
      if (count < size && state.kernelMax > offset + count) {
        // The short answer brings the kernel's size down to its end, unless an invalidation lands
        // before the kernel applies it: none may begin until it has (afterReply); one under way
        // already means a retry.
        if (!queue.hold(state.slot, now() + HOLD_MS)) return interrupt(state.slot);
        state.kernelMin = state.kernelMax = offset + count;
        lowers = true;
        // A reader past the end of this version (it read a longer one) set the size beyond it.
        if (offset + count > length) queue.due(state.slot, ino, 0);
      }
      state.filled = version;
      settling.push(lowers ? -1 - state.slot : state.slot);
      return count;
    },

    afterReply() {
      // A short answer that lowers the size: the kernel applies it only when the reader's task
      // runs again after this answer (a read of one page: read_folio), and skips it if the
      // file's invalidation came in between; it stays held a little longer.
      for (const slot of settling) {
        if (slot >= 0) queue.release(slot);
        else queue.holdUntil(-1 - slot, now() + SETTLE_MS);
      }
      settling.length = 0;
      if (interrupted < 0) return;
      // A read answered EINTR comes again at once, and the one that comes from read_folio (the
      // page the failed readahead left) gives its EINTR to the reader. The invalidation was
      // waiting for the page this answer unlocked: it ends now, and the read that comes again
      // must find it ended. Bounded: it may wait for another read of the file still queued.
      const slot = interrupted;
      interrupted = -1;
      const end = performance.now() + NOTIFY_WAIT_MS;
      while (queue.isNotifying(slot) && performance.now() < end) Atomics.wait(pauseCell, 0, 0, NOTIFY_POLL_MS);
    },

    release() {},

    opendir(ino): OpenReply | number {
      if (ino === FUSE_ROOT_ID) return { fh: 0, openFlags: 0 };
      const dir = tree.node(ino);
      if (dir === undefined || idOf(ino) === undefined) return Errno.ENOENT;
      return dir.children ? { fh: 0, openFlags: OpenFlag.CACHE_DIR } : Errno.ENOTDIR;
    },

    readdir(ino) {
      if (ino !== FUSE_ROOT_ID) {
        const dir = tree.node(ino);
        if (dir === undefined) return Errno.ENOENT;
        return dir.entries ?? Errno.ENOTDIR;
      }
      const ids = registeredIds(options.registry);
      for (const id of ids) learn(id, ids);
      return [
        { name: ".", attr: ROOT_ATTR },
        { name: "..", attr: ROOT_ATTR },
        ...ids.map((id) => ({ name: id, attr: tree.node(tree.containerIno(id))!.attr })),
      ];
    },

    access(ino, mask) {
      if (ino !== FUSE_ROOT_ID && tree.node(ino) === undefined) return Errno.ENOENT;
      return mask & W_OK ? Errno.EROFS : 0;
    },

    beforeRequest() {
      queue.takeDone((slot, inode) => {
        const state = bySlot[slot];
        if (state === undefined || state.ino !== inode || state.pinned === null) return;
        // A version rendered since (the kernel dropped the file before it was asked for again,
        // or the one its attributes gave was rendered again) stays, and is due at its own time:
        // it was served while this invalidation was queued already, so nothing else queues it,
        // and left pinned it would be served to the next reader however late it came. One past
        // its time goes, even when it was served while the kernel dropped it: that serve queued
        // the file again, and the next request renders a new version.
        if (deadlineOf(state, state.pinned) > now()) {
          due(state, state.pinned);
          return;
        }
        if (state.pinned !== state.dropped) {
          state.dropped = state.pinned;
          state.droppedAt = now();
        }
        state.pinned = null;
      });
    },

    afterPredecessor() {
      // The attributes only: a page invalidation would wait for the reads a predecessor left,
      // which this thread has yet to answer. The pages go through the queue.
      const at = now();
      let files = 0;
      const registered = registeredIds(options.registry);
      for (const id of registered) {
        learn(id, registered);
        for (const file of tree.containerFiles(id)) {
          if (notifier.invalidate(file.ino, -1, 0) === "absent") continue;
          const state = stateOf(file.ino);
          if (state === undefined) continue;
          state.pinned = null;
          state.dropped = null;
          state.kernelMin = 0;
          state.kernelMax = SPLICE_SIZE;
          queue.due(state.slot, state.ino, at);
          files++;
        }
      }
      if (files > 0) log(`per-container tree: ${files} files held by the kernel invalidated`);
    },
  };
}
