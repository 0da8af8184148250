// The FUSE operations of procview's read-only tree: directories from the static tree, and
// files whose content is rendered for the caller at OPEN and kept with the handle.
import type { FuseOps, OpenReply, RequestCaller } from "../kernel/request-loop.js";
import type { NodeAttributes } from "../kernel/encode.js";
import { Errno, O_ACCMODE, O_TRUNC, OpenFlag, W_OK } from "../kernel/protocol.js";
import { HandleStore } from "./handle-store.js";
import { Tree, TreeNode } from "./tree.js";
import type { SharedStats } from "./stats.js";
import { ViewName } from "../../core/layout.js";

/** Renders one view for the process that opened it. */
export type Renderer = (view: ViewName, caller: RequestCaller) => string;

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
      let content: string;
      try {
        content = render(file.view, caller);
      } catch (err) {
        stats.add("renderFailures");
        log(`render ${file.view} for pid ${caller.pid} failed: ${err instanceof Error ? err.message : String(err)}`);
        return Errno.EIO;
      }
      const fh = store.store(content);
      if (fh < 0) {
        log(`open ${file.view} for pid ${caller.pid}: handle store full`);
        return -fh;
      }
      stats.add("opens");
      // Direct I/O: every open is rendered for its caller, so the page cache (shared by all
      // openers of the inode) must never serve one container's text to another.
      return { fh, openFlags: OpenFlag.DIRECT_IO, raiseSizeForSplice: true };
    },

    read(fh, offset, size, out, outOffset, ino, caller) {
      // A read from offset 0 of a handle already read is a reader coming back for fresh numbers
      // (procps' top and free keep /proc/meminfo open and lseek to 0), as procfs regenerates a
      // file read from 0. A first read keeps what OPEN rendered, so one pass in chunks sees one file.
      if (offset === 0 && store.wasRead(fh)) {
        const view = node(ino)?.view;
        if (view) {
          try {
            const replaced = store.replace(fh, render(view, caller));
            if (replaced < 0) return replaced;
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
      const bytes = Buffer.from(render(view, caller));
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
