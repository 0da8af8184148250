// The FUSE operations of procview's read-only top-level tree: directories from the static tree,
// and files whose content is rendered for the caller at OPEN and kept with the handle. (Its own
// containers/<id>/ copies are what a reader finds only while the per-container tree, served from
// the page cache by container-tree.ts, is not mounted over containers/.)
//
// How each read path is served. Every file is opened with direct I/O, so read(), readv() and
// pread() (from any number of threads) reach us and get the text of their own handle. The page
// cache belongs to the inode, and an inode here is shared: by every reader of a top-level file,
// and by whoever opens the same containers/<id>/ path. So whatever would fill it (splice and
// sendfile, mmap, readahead) is refused with EINVAL, the kernel's word for "no splice here":
// busybox cat, Python's shutil, Go's io.Copy fall back to read(). MAP_SHARED is refused by the
// kernel itself (ENODEV) on a direct-I/O file; a MAP_PRIVATE mapping gets SIGBUS when touched.
// /proc's own files cannot be mapped either.
import type { FuseOps, OpenReply, RequestCaller } from "../kernel/request-loop.js";
import type { NodeAttributes } from "../kernel/encode.js";
import { Errno, O_ACCMODE, O_TRUNC, OpenFlag, W_OK } from "../kernel/protocol.js";
import type { HandleStore, Tenant } from "./handle-store.js";
import { Tree, TreeNode } from "./tree.js";
import type { SharedStats } from "./stats.js";
import { ViewName } from "../../core/layout.js";

/** A view's text for one reader, and the tenant (its container, or the host) it counts against. */
export interface Rendered {
  text: string;
  tenant: Tenant;
}

/** Renders one view for the process that opened it. */
export type Renderer = (view: ViewName, caller: RequestCaller) => Rendered;

export function createFilesystem(
  tree: Tree,
  store: HandleStore,
  render: Renderer,
  log: (line: string) => void,
  /** opens; renderFailures; rerendered: reads of handles a previous serving process issued. */
  stats: SharedStats,
): FuseOps {
  const node = (ino: number): TreeNode | undefined => tree.node(ino);

  return {
    lookup(parent, name): NodeAttributes | number {
      const dir = node(parent);
      if (!dir) return Errno.ENOENT;
      if (!dir.children) return Errno.ENOTDIR;
      const child = tree.child(parent, name);
      return child === undefined ? Errno.ENOENT : node(child)!.attr;
    },

    getattr(ino) {
      return node(ino)?.attr ?? Errno.ENOENT;
    },

    open(ino, flags, caller): OpenReply | number {
      const file = node(ino);
      if (!file) return Errno.ENOENT;
      if (!file.view) return Errno.EISDIR;
      if ((flags & O_ACCMODE) !== 0 || (flags & O_TRUNC) !== 0) return Errno.EROFS;
      // No default_permissions, so the mode is ours to enforce: a file others may not read
      // (slabinfo, 0400 as the kernel's) opens for root only, as the kernel's does.
      if ((file.attr.mode & 0o004) === 0 && caller.uid !== 0) return Errno.EACCES;
      let rendered: Rendered;
      try {
        rendered = render(file.view, caller);
      } catch (err) {
        stats.add("renderFailures");
        log(`render ${file.view} for pid ${caller.pid} failed: ${err instanceof Error ? err.message : String(err)}`);
        return Errno.EIO;
      }
      // A refusal (the tenant's share is used up, or the store keeps the rest for others) is
      // counted by the store and reported by the service, at most a line per tenant per interval.
      const fh = store.store(rendered.text, rendered.tenant);
      if (fh < 0) return -fh;
      stats.add("opens");
      // Direct I/O: every open is rendered for its caller, so the page cache (shared by all
      // openers of the inode) must never serve one container's text to another.
      return { fh, openFlags: OpenFlag.DIRECT_IO, raiseSizeForSplice: true };
    },

    read(fh, offset, size, out, outOffset, ino, caller, pageCache) {
      if (pageCache) return -Errno.EINVAL;
      // A read from offset 0 of a handle already read is a reader coming back for fresh numbers
      // (procps' top and free keep /proc/meminfo open and lseek to 0), as procfs regenerates a
      // file read from 0. A first read keeps what OPEN rendered, so one pass in chunks sees one file.
      if (offset === 0 && store.wasRead(fh)) {
        const view = node(ino)?.view;
        if (view) {
          try {
            // Refused (its tenant cannot take the pages a longer text needs): the handle keeps
            // its last text, and the reader reads that.
            const replaced = store.replace(fh, render(view, caller).text);
            if (replaced === -Errno.EBADF) return replaced;
          } catch (err) {
            stats.add("renderFailures");
            log(`render ${view} for pid ${caller.pid} failed: ${err instanceof Error ? err.message : String(err)}`);
            return -Errno.EIO;
          }
        }
      }
      const count = store.read(fh, offset, size, out, outOffset);
      if (count !== -Errno.EBADF) return count;
      // A handle opened through a serving process that has since died (or been replaced):
      // its text is gone with it, so render the view again for this reader. The reader sees
      // no error; only a file read across the restart may mix two renderings.
      const view = node(ino)?.view;
      if (!view) return -Errno.EBADF;
      stats.add("rerendered");
      const bytes = Buffer.from(render(view, caller).text);
      if (offset >= bytes.length) return 0;
      return bytes.copy(out, outOffset, offset, Math.min(bytes.length, offset + size));
    },

    release(fh) {
      store.release(fh);
    },

    opendir(ino): OpenReply | number {
      const dir = node(ino);
      if (!dir) return Errno.ENOENT;
      if (!dir.children) return Errno.ENOTDIR;
      return { fh: 0, openFlags: OpenFlag.CACHE_DIR };
    },

    readdir(ino) {
      const dir = node(ino);
      if (!dir) return Errno.ENOENT;
      return dir.entries ?? Errno.ENOTDIR;
    },

    access(ino, mask) {
      if (!node(ino)) return Errno.ENOENT;
      return mask & W_OK ? Errno.EROFS : 0;
    },
  };
}
