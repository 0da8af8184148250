// Failing chosen files the way the kernel would, under code that reads them with node:fs. The
// synchronous calls procview reads cgroup and process files with (openSync, readSync on kept
// descriptors, readlinkSync, readdirSync, readFileSync) are wrapped in place and the change is
// pushed to every ES module's named imports (syncBuiltinESMExports), so the product runs
// unchanged. In-process for the fault matrix, and in a real serving process through
// fault-preload.ts (node --import), where a control file says what to fail.
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { constants } from "node:os";

/** The errnos the kernel can answer a cgroup or procfs read with. */
export const ERRNOS = ["ENOENT", "ENODEV", "ESRCH", "EOPNOTSUPP", "EINVAL", "EACCES", "EIO"] as const;
export type Errno = (typeof ERRNOS)[number];

export type Operation = "open" | "read" | "readlink" | "readdir";

export interface Fault {
  errno: Errno;
  /** Which operations on which paths fail. */
  matches: (path: string, operation: Operation) => boolean;
}

/** An Error shaped like Node's own for a failed system call (libuv names EOPNOTSUPP "ENOTSUP"). */
export function errnoError(errno: Errno, syscall: string, path: string): NodeJS.ErrnoException {
  const code = errno === "EOPNOTSUPP" ? "ENOTSUP" : errno;
  const number = constants.errno[errno];
  return Object.assign(new Error(`${code}: injected, ${syscall} '${path}'`), { errno: -number, code, syscall, path });
}

let fault: Fault | null | (() => Fault | null) = null;
let observe: ((operation: Operation, path: string) => void) | null = null;
const descriptors = new Map<number, string>();
let installed = false;

function touch(operation: Operation, path: string, syscall: string): void {
  observe?.(operation, path);
  const now = typeof fault === "function" ? fault() : fault;
  if (now !== null && now.matches(path, operation)) throw errnoError(now.errno, syscall, path);
}

/** Wraps the fs calls once per thread; faults and observers are set separately. */
export function installFsFaults(): void {
  if (installed) return;
  installed = true;
  const { openSync, readSync, closeSync, readlinkSync, readdirSync, readFileSync } = fs;
  const pathOf = (p: unknown) => (typeof p === "string" ? p : p instanceof URL ? p.pathname : String(p));
  Object.assign(fs, {
    openSync(path: fs.PathLike, ...rest: unknown[]) {
      touch("open", pathOf(path), "open");
      const fd = (openSync as (...a: unknown[]) => number)(path, ...rest);
      descriptors.set(fd, pathOf(path));
      return fd;
    },
    readSync(fd: number, ...rest: unknown[]) {
      const path = descriptors.get(fd);
      if (path !== undefined) touch("read", path, "read");
      return (readSync as (...a: unknown[]) => number)(fd, ...rest);
    },
    closeSync(fd: number) {
      descriptors.delete(fd);
      closeSync(fd);
    },
    readlinkSync(path: fs.PathLike, ...rest: unknown[]) {
      touch("readlink", pathOf(path), "readlink");
      return (readlinkSync as (...a: unknown[]) => unknown)(path, ...rest);
    },
    readdirSync(path: fs.PathLike, ...rest: unknown[]) {
      touch("readdir", pathOf(path), "scandir");
      return (readdirSync as (...a: unknown[]) => unknown)(path, ...rest);
    },
    readFileSync(path: fs.PathOrFileDescriptor, ...rest: unknown[]) {
      if (typeof path !== "number") touch("read", pathOf(path), "open");
      return (readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
    },
  });
  syncBuiltinESMExports();
}

/** From now on every operation on a matching path fails with `next.errno`; null: none fails. A
 * function is asked at every operation (a control file another process rewrites). */
export function setFault(next: Fault | null | (() => Fault | null)): void {
  fault = next;
}

/** Told of every operation (to learn which files a piece of code reads); null: nobody. */
export function observeFs(next: ((operation: Operation, path: string) => void) | null): void {
  observe = next;
}
