// Constants of the FUSE wire protocol, from linux/fuse.h as of protocol 7.38. Only what
// procview speaks is named here.
import { constants } from "node:os";

export const FUSE_KERNEL_VERSION = 7;
/** The minor we implement. We use nothing newer than 7.38, so we answer min(kernel, 38): a newer
 * kernel (6.x speaks 7.4x) then talks 7.38 to us, an older one its own minor. */
export const FUSE_KERNEL_MINOR_VERSION = 38;

export const FUSE_ROOT_ID = 1;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
} as const;

/** Requests that would change the filesystem: all answered EROFS. */
export const MUTATING_OPCODES: ReadonlySet<number> = new Set([
  Opcode.SETATTR,
  Opcode.SYMLINK,
  Opcode.MKNOD,
  Opcode.MKDIR,
  Opcode.UNLINK,
  Opcode.RMDIR,
  Opcode.RENAME,
  Opcode.LINK,
  Opcode.WRITE,
  Opcode.SETXATTR,
  Opcode.REMOVEXATTR,
  Opcode.CREATE,
  Opcode.FALLOCATE,
  Opcode.RENAME2,
  Opcode.COPY_FILE_RANGE,
  Opcode.TMPFILE,
  Opcode.SETUPMAPPING,
  Opcode.REMOVEMAPPING,
]);

export const InitFlag = {
  ASYNC_READ: 1 << 0,
  /** A refresh of a file's attributes that brings a new mtime (or size) drops its cached pages. */
  AUTO_INVAL_DATA: 1 << 12,
  DO_READDIRPLUS: 1 << 13,
  READDIRPLUS_AUTO: 1 << 14,
  PARALLEL_DIROPS: 1 << 18,
  MAX_PAGES: 1 << 22,
} as const;

export const OpenFlag = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
} as const;

/** Unsolicited messages to the kernel (out header with unique 0 and the code as error). */
export const NotifyCode = {
  INVAL_INODE: 2,
  STORE: 4,
  /** Kernel 6.9+: put every request a server took but did not answer back in the queue. */
  RESEND: 7,
} as const;
export const NOTIFY_STORE_OUT_SIZE = 24;
export const NOTIFY_INVAL_INODE_OUT_SIZE = 24;

/** fuse_getattr_in.getattr_flags. */
export const GetattrFlag = {
  /** Asked through an open file, whose handle follows. */
  FH: 1 << 0,
} as const;

/** fuse_read_in.read_flags. */
export const ReadFlag = {
  /** lock_owner is valid: the kernel sets it on direct-I/O reads only. */
  LOCKOWNER: 1 << 1,
} as const;
/** The size files are raised to at open so that splice readers read up to their real end. */
export const SPLICE_SIZE = 2 ** 40;

export const Errno = {
  EPERM: constants.errno.EPERM,
  ENOENT: constants.errno.ENOENT,
  EINTR: constants.errno.EINTR,
  EIO: constants.errno.EIO,
  EBADF: constants.errno.EBADF,
  ENOMEM: constants.errno.ENOMEM,
  EACCES: constants.errno.EACCES,
  ENOTDIR: constants.errno.ENOTDIR,
  EISDIR: constants.errno.EISDIR,
  EINVAL: constants.errno.EINVAL,
  ENFILE: constants.errno.ENFILE,
  EMFILE: constants.errno.EMFILE,
  EROFS: constants.errno.EROFS,
  ERANGE: constants.errno.ERANGE,
  ENOSYS: constants.errno.ENOSYS,
  ENODATA: constants.errno.ENODATA,
  EPROTO: constants.errno.EPROTO,
} as const;

// Struct sizes (bytes) from fuse.h.
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
export const OPEN_OUT_SIZE = 16;
export const INIT_OUT_SIZE = 64;
export const STATFS_OUT_SIZE = 80;
export const DIRENT_HEADER_SIZE = 24;
export const GETXATTR_OUT_SIZE = 8;

/** Pages per request we ask for (FUSE_MAX_PAGES): 32 × 4 KiB = 128 KiB. */
export const MAX_PAGES = 32;
export const MAX_WRITE = MAX_PAGES * 4096;
/** The kernel refuses a read() buffer smaller than max_write + headers (and < 8 KiB). */
export const REQUEST_BUFFER_SIZE = MAX_WRITE + 4096;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
/** d_type values used in dirents. */
export const DT_DIR = 4;
export const DT_REG = 8;

export const W_OK = 2;
export const O_ACCMODE = 3;
export const O_TRUNC = 0o1000;
