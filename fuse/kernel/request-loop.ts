// One blocking read → handle → write loop over /dev/fuse. Several threads run this loop on
// the same descriptor, which keeps several reads outstanding on the device: the kernel hands
// each request to exactly one reader. Blocking readSync/writeSync in worker threads measured
// ~31 µs a file on a 2-CPU VM against ~235 µs for libuv's async fs.read (a threadpool hop per
// request).
import { readSync, writeSync } from "node:fs";
import {
  CacheTimeouts,
  NodeAttributes,
  Timestamp,
  readU64,
  writeAttrOut,
  writeDirent,
  writeEntryOut,
  writeOutHeader,
  writeU64,
  direntSize,
} from "./encode.js";
import { Notifier } from "./notify.js";
import {
  ENTRY_OUT_SIZE,
  Errno,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  GETXATTR_OUT_SIZE,
  INIT_OUT_SIZE,
  IN_HEADER_SIZE,
  InitFlag,
  MAX_PAGES,
  MAX_WRITE,
  MUTATING_OPCODES,
  GetattrFlag,
  ReadFlag,
  S_IFMT,
  S_IFREG,
  SPLICE_SIZE,
  OPEN_OUT_SIZE,
  OUT_HEADER_SIZE,
  Opcode,
  REQUEST_BUFFER_SIZE,
  STATFS_OUT_SIZE,
} from "./protocol.js";

export interface RequestCaller {
  /** Thread id of the caller, in the pid namespace of whoever mounted us (the host). 0 when
   * the caller is in a namespace the mounter cannot see. */
  pid: number;
  uid: number;
  gid: number;
}

export interface OpenReply {
  fh: number;
  openFlags: number;
  /** Raise the inode's size before replying so that splice/sendfile readers read (see below). */
  raiseSizeForSplice?: boolean;
}

export interface DirEntry {
  name: string;
  attr: NodeAttributes;
}

/** What a filesystem implements. A number result is an errno. Calls are synchronous: they
 * run on the thread that read the request, which is the point of the design. */
export interface FuseOps {
  lookup(parent: number, name: string): NodeAttributes | number;
  /** `fromFile`: asked through an open file (fstat, or a read past the size the kernel holds),
   * not through a path (stat, the permission check of an open). */
  getattr(ino: number, fromFile: boolean): NodeAttributes | number;
  open(ino: number, flags: number, caller: RequestCaller): OpenReply | number;
  /** Copies up to `size` bytes at `offset` into `out` at `outOffset`; returns the count or -errno.
   * `ino` and `caller` let a server that lost the handle (a restarted process) still answer.
   * `pageCache`: the kernel reads for the inode's page cache (splice, sendfile, mmap, readahead),
   * whose pages every opener of the inode is then served; otherwise for this reader alone. */
  read(
    fh: number,
    offset: number,
    size: number,
    out: Buffer,
    outOffset: number,
    ino: number,
    caller: RequestCaller,
    pageCache: boolean,
  ): number;
  release(fh: number): void;
  opendir(ino: number): OpenReply | number;
  /** Entries including "." and "..". */
  readdir(ino: number): readonly DirEntry[] | number;
  access(ino: number, mask: number): number;
}

export interface NegotiatedInit {
  kernelMajor: number;
  kernelMinor: number;
  minor: number;
  flags: number;
}

export interface LoopOptions {
  fd: number;
  ops: FuseOps;
  cache: CacheTimeouts;
  time: Timestamp;
  log: (line: string) => void;
  onInit?: (init: NegotiatedInit) => void;
  /**
   * The connection's files are served from the kernel's page cache (the per-container tree):
   * their attributes carry their real size, OPEN is answered ENOSYS (the kernel then opens every
   * file of the connection without asking), and extended attributes ENOSYS (never asked again).
   * Otherwise every file is opened with direct I/O and its size kept out of the kernel's way
   * (raiseSize, keepSize below).
   */
  cached?: boolean;
  /** Called with each request before it is handled, and once its answer is written. */
  beforeRequest?: () => void;
  afterReply?: () => void;
}

export type LoopEnd = "unmounted" | "destroyed";

/**
 * Background requests the kernel lets reach us at once. RELEASE is one: the close() that sends
 * it returns at once, and the rest wait in the kernel's own queue. With libfuse's default (12;
 * we had 64), a process opening and closing from hundreds of threads sends OPENs faster than
 * RELEASEs get through, so handles it has closed long ago still count against its share. High
 * enough that RELEASEs queue with the OPENs instead; a request is a few hundred bytes of kernel
 * memory.
 */
const MAX_BACKGROUND = 4096;

const WANTED_INIT_FLAGS =
  InitFlag.ASYNC_READ | InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO | InitFlag.PARALLEL_DIROPS | InitFlag.MAX_PAGES;

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

/** Runs until the filesystem is unmounted or the kernel sends DESTROY. */
export function runRequestLoop(options: LoopOptions): LoopEnd {
  const { fd, ops, cache, time, log } = options;
  const input = Buffer.allocUnsafe(REQUEST_BUFFER_SIZE);
  const output = Buffer.allocUnsafe(OUT_HEADER_SIZE + MAX_WRITE);
  const caller: RequestCaller = { pid: 0, uid: 0, gid: 0 };
  const notifier = new Notifier(fd);
  const cached = options.cached === true;
  const splicedByte = Buffer.from("\n");

  /** Set when the last reply found nobody waiting for it. */
  let replyUnclaimed = false;
  const reply = (error: number, bodyLength: number): LoopEnd | undefined => {
    const length = OUT_HEADER_SIZE + bodyLength;
    writeOutHeader(output, length, error, input);
    replyUnclaimed = false;
    try {
      writeSync(fd, output, 0, length);
    } catch (err) {
      const code = errorCode(err);
      // ENOENT: the request was interrupted, aborted, or resent under a new id meanwhile
      // (a RESEND notification); nobody waits for this answer.
      if (code === "ENOENT") {
        replyUnclaimed = true;
        return undefined;
      }
      if (code === "ENODEV" || code === "EBADF") return "unmounted";
      log(`fuse: writing the reply failed: ${String(err)}`);
    }
    return undefined;
  };

  for (;;) {
    let length: number;
    try {
      length = readSync(fd, input, 0, input.length, null);
    } catch (err) {
      const code = errorCode(err);
      if (code === "EINTR" || code === "EAGAIN" || code === "ENOENT") continue;
      if (code === "ENODEV" || code === "EBADF") return "unmounted";
      log(`fuse: reading /dev/fuse failed: ${String(err)}`);
      return "unmounted";
    }
    if (length < IN_HEADER_SIZE) {
      log(`fuse: short request of ${length} bytes ignored`);
      continue;
    }
    const opcode = input.readUInt32LE(4);
    const nodeid = readU64(input, 16);
    caller.uid = input.readUInt32LE(24);
    caller.gid = input.readUInt32LE(28);
    caller.pid = input.readUInt32LE(32);
    options.beforeRequest?.();

    let end: LoopEnd | undefined;
    try {
      end = handle(opcode, nodeid, length);
    } catch (err) {
      log(`fuse: opcode ${opcode} on node ${nodeid} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      end = reply(Errno.EIO, 0);
    }
    options.afterReply?.();
    if (end) return end;
  }

  function handle(opcode: number, nodeid: number, length: number): LoopEnd | undefined {
    switch (opcode) {
      case Opcode.INIT: {
        const kernelMajor = input.readUInt32LE(40);
        const kernelMinor = input.readUInt32LE(44);
        const maxReadahead = input.readUInt32LE(48);
        const kernelFlags = input.readUInt32LE(52);
        if (kernelMajor !== FUSE_KERNEL_VERSION) {
          // A newer major: answer with ours and the kernel re-sends INIT in our major.
          output.fill(0, OUT_HEADER_SIZE, OUT_HEADER_SIZE + INIT_OUT_SIZE);
          output.writeUInt32LE(FUSE_KERNEL_VERSION, OUT_HEADER_SIZE);
          output.writeUInt32LE(FUSE_KERNEL_MINOR_VERSION, OUT_HEADER_SIZE + 4);
          return reply(kernelMajor < FUSE_KERNEL_VERSION ? Errno.EPROTO : 0, INIT_OUT_SIZE);
        }
        const minor = Math.min(kernelMinor, FUSE_KERNEL_MINOR_VERSION);
        const flags = kernelFlags & (cached ? WANTED_INIT_FLAGS | InitFlag.AUTO_INVAL_DATA : WANTED_INIT_FLAGS);
        const o = OUT_HEADER_SIZE;
        output.fill(0, o, o + INIT_OUT_SIZE);
        output.writeUInt32LE(FUSE_KERNEL_VERSION, o);
        output.writeUInt32LE(minor, o + 4);
        output.writeUInt32LE(maxReadahead, o + 8);
        output.writeUInt32LE(flags, o + 12);
        output.writeUInt16LE(MAX_BACKGROUND, o + 16);
        output.writeUInt16LE((MAX_BACKGROUND * 3) / 4, o + 18); // congestion_threshold
        output.writeUInt32LE(MAX_WRITE, o + 20);
        output.writeUInt32LE(1, o + 24); // time_gran: 1 ns
        output.writeUInt16LE(MAX_PAGES, o + 28);
        options.onInit?.({ kernelMajor, kernelMinor, minor, flags });
        return reply(0, INIT_OUT_SIZE);
      }
      case Opcode.DESTROY:
        reply(0, 0);
        return "destroyed";
      case Opcode.FORGET:
      case Opcode.BATCH_FORGET:
      case Opcode.INTERRUPT:
        // No reply is expected. Our nodes are static (nothing to forget) and every handler
        // answers at once, so an interrupted request simply gets its normal answer.
        return undefined;
      case Opcode.LOOKUP: {
        const name = input.toString("utf8", IN_HEADER_SIZE, nulEnd(input, IN_HEADER_SIZE, length));
        const result = ops.lookup(nodeid, name);
        if (typeof result === "number") return reply(result, 0);
        if (!cached && isRegular(result)) keepSize(result.ino);
        return reply(0, writeEntryOut(output, OUT_HEADER_SIZE, result, time, cache));
      }
      case Opcode.GETATTR: {
        // fuse_getattr_in: getattr_flags, then the file handle when FUSE_GETATTR_FH is set.
        const fromFile = length >= IN_HEADER_SIZE + 4 && (input.readUInt32LE(IN_HEADER_SIZE) & GetattrFlag.FH) !== 0;
        const result = ops.getattr(nodeid, fromFile);
        if (typeof result === "number") return reply(result, 0);
        if (!cached && isRegular(result)) keepSize(nodeid);
        return reply(0, writeAttrOut(output, OUT_HEADER_SIZE, result, time, cache));
      }
      case Opcode.OPEN:
      case Opcode.OPENDIR: {
        const flags = input.readUInt32LE(40);
        const result = opcode === Opcode.OPEN ? ops.open(nodeid, flags, caller) : ops.opendir(nodeid);
        if (typeof result === "number") return reply(result, 0);
        if (result.raiseSizeForSplice) raiseSize(nodeid);
        writeU64(output, OUT_HEADER_SIZE, result.fh);
        output.writeUInt32LE(result.openFlags, OUT_HEADER_SIZE + 8);
        output.writeUInt32LE(0, OUT_HEADER_SIZE + 12);
        const end = reply(0, OPEN_OUT_SIZE);
        // The kernel will never RELEASE a handle it did not receive.
        if (replyUnclaimed && opcode === Opcode.OPEN) ops.release(result.fh);
        return end;
      }
      case Opcode.READ: {
        const fh = readU64(input, 40);
        const offset = readU64(input, 48);
        const size = Math.min(input.readUInt32LE(56), MAX_WRITE);
        // The kernel names the reader's file table (the lock owner) on direct reads only: a
        // READ without one fills the page cache (fs/fuse/file.c: fuse_send_read on the direct
        // path, fuse_read_args_fill alone for read_folio and readahead).
        const pageCache = (input.readUInt32LE(60) & ReadFlag.LOCKOWNER) === 0;
        const count = ops.read(fh, offset, size, output, OUT_HEADER_SIZE, nodeid, caller, pageCache);
        if (count < 0) return reply(-count, 0);
        return reply(0, count);
      }
      case Opcode.RELEASE:
        ops.release(readU64(input, 40));
        return reply(0, 0);
      case Opcode.RELEASEDIR:
        return reply(0, 0);
      case Opcode.FLUSH:
        // ENOSYS makes the kernel stop sending FLUSH on every close() of this connection: a
        // read-only file has nothing to flush, and it saves one round trip per file.
        return reply(Errno.ENOSYS, 0);
      case Opcode.READDIR:
      case Opcode.READDIRPLUS: {
        const offset = readU64(input, 48);
        const size = Math.min(input.readUInt32LE(56), MAX_WRITE);
        const entries = ops.readdir(nodeid);
        if (typeof entries === "number") return reply(entries, 0);
        return reply(0, packDirectory(entries, offset, size, opcode === Opcode.READDIRPLUS));
      }
      case Opcode.STATFS: {
        const o = OUT_HEADER_SIZE;
        output.fill(0, o, o + STATFS_OUT_SIZE);
        output.writeUInt32LE(4096, o + 40); // bsize
        output.writeUInt32LE(255, o + 44); // namelen
        output.writeUInt32LE(4096, o + 48); // frsize
        return reply(0, STATFS_OUT_SIZE);
      }
      case Opcode.ACCESS:
        return reply(ops.access(nodeid, input.readUInt32LE(40)), 0);
      case Opcode.GETXATTR:
        return reply(cached ? Errno.ENOSYS : Errno.ENODATA, 0);
      case Opcode.LISTXATTR: {
        if (cached) return reply(Errno.ENOSYS, 0);
        // No attributes: a size probe gets 0, a real read gets an empty list.
        if (input.readUInt32LE(40) === 0) {
          output.fill(0, OUT_HEADER_SIZE, OUT_HEADER_SIZE + GETXATTR_OUT_SIZE);
          return reply(0, GETXATTR_OUT_SIZE);
        }
        return reply(0, 0);
      }
      case Opcode.READLINK:
        return reply(Errno.EINVAL, 0);
      default:
        if (MUTATING_OPCODES.has(opcode)) return reply(Errno.EROFS, 0);
        return reply(Errno.ENOSYS, 0);
    }
  }

  // read() on a direct-I/O file goes to us whatever the size; sendfile()/splice() (busybox cat)
  // and mmap go through the page cache and stop at i_size, which is 0 like /proc's: they would
  // read an empty file without asking us. Storing one byte far out raises i_size, so they ask
  // for page 0 (a READ without a lock owner), which the filesystem answers or refuses.
  function raiseSize(nodeid: number): void {
    try {
      notifier.store(nodeid, SPLICE_SIZE - 1, splicedByte);
    } catch (err) {
      log(`fuse: raising the size of node ${nodeid} failed: ${String(err)}`);
    }
  }

  // A file's attributes in a LOOKUP or GETATTR reply (size 0, as stat must show) would set the
  // inode's i_size back to 0 for everyone, so another reader's splice between its OPEN and its
  // read would see an empty file. An attribute-only invalidation first bumps the inode's
  // attribute version past the request's, and the kernel then fills the caller's stat from the
  // reply but leaves the inode as it is (fuse_change_attributes ignores older versions).
  // ENOENT: the kernel has no inode for it yet (a first LOOKUP); nothing to keep.
  function keepSize(nodeid: number): void {
    try {
      notifier.invalidate(nodeid, -1, 0);
    } catch (err) {
      log(`fuse: keeping the size of node ${nodeid} failed: ${String(err)}`);
    }
  }

  function packDirectory(entries: readonly DirEntry[], offset: number, size: number, plus: boolean): number {
    const limit = OUT_HEADER_SIZE + size;
    let o = OUT_HEADER_SIZE;
    for (let i = offset; i < entries.length; i++) {
      const entry = entries[i]!;
      const type = (entry.attr.mode >> 12) & 0o17;
      if (plus) {
        if (o + ENTRY_OUT_SIZE + direntSize(Buffer.byteLength(entry.name)) > limit) break;
        // "." and ".." carry no entry (nodeid 0), so the kernel takes no lookup reference; nor do
        // files, whose attributes would set a raised i_size back to 0 (see keepSize).
        const bare = entry.name === "." || entry.name === ".." || isRegular(entry.attr);
        if (bare) output.fill(0, o, o + ENTRY_OUT_SIZE);
        else writeEntryOut(output, o, entry.attr, time, cache);
        o += ENTRY_OUT_SIZE;
      }
      const used = writeDirent(output, o, limit, entry.attr.ino, i + 1, type, entry.name);
      if (used === 0) break;
      o += used;
    }
    return o - OUT_HEADER_SIZE;
  }
}

function isRegular(attr: NodeAttributes): boolean {
  return (attr.mode & S_IFMT) === S_IFREG;
}

function nulEnd(buf: Buffer, start: number, end: number): number {
  const nul = buf.indexOf(0, start);
  return nul === -1 || nul > end ? end : nul;
}
