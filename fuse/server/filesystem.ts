// The FUSE operations of procview's read-only tree: directories from the static tree, and
// files whose content is rendered for the caller at OPEN and kept with the handle.
import type { FuseOps, OpenReply, RequestCaller } from "../kernel/request-loop.js";
import type { NodeAttributes } from "../kernel/encode.js";
import { Errno, FUSE_ROOT_ID, O_ACCMODE, O_TRUNC, OpenFlag, W_OK } from "../kernel/protocol.js";
import { HandleStore } from "./handle-store.js";
import { TreeNode, ViewName } from "./tree.js";

/** Renders one view for the process that opened it. */
export type Renderer = (view: ViewName, caller: RequestCaller) => string;

export interface FilesystemCounters {
  opens: number;
  renderFailures: number;
}

export function createFilesystem(
  tree: TreeNode[],
  store: HandleStore,
  render: Renderer,
  log: (line: string) => void,
  counters: FilesystemCounters = { opens: 0, renderFailures: 0 },
): FuseOps {
  const node = (ino: number): TreeNode | undefined => tree[ino - FUSE_ROOT_ID];

  return {
    lookup(parent, name): NodeAttributes | number {
      const dir = node(parent);
      if (!dir) return Errno.ENOENT;
      if (!dir.children) return Errno.ENOTDIR;
      const child = dir.children.get(name);
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
      let content: string;
      try {
        content = render(file.view, caller);
      } catch (err) {
        counters.renderFailures++;
        log(`render ${file.view} for pid ${caller.pid} failed: ${err instanceof Error ? err.message : String(err)}`);
        return Errno.EIO;
      }
      const fh = store.store(content);
      if (fh < 0) {
        log(`open ${file.view} for pid ${caller.pid}: handle store full`);
        return -fh;
      }
      counters.opens++;
      // Direct I/O: every open is rendered for its caller, so the page cache (shared by all
      // openers of the inode) must never serve one container's text to another.
      return { fh, openFlags: OpenFlag.DIRECT_IO, raiseSizeForSplice: true };
    },

    read(fh, offset, size, out, outOffset) {
      return store.read(fh, offset, size, out, outOffset);
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
