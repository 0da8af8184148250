// Small synchronous readers shared by the cgroup modules. Callers run in worker threads on the
// request path, so everything is blocking and allocation-light.
//
// Every read has one of three outcomes:
// - a value;
// - null: the file has nothing for us. Either it is gone (a process or cgroup that vanished
//   between listing and reading, a file the kernel does not offer there) or it does not apply
//   to this cgroup (a threaded cgroup's cgroup.procs answers EOPNOTSUPP). Both are ordinary;
// - CgroupReadError: anything else (EACCES, EIO, EINVAL, unparsable text), naming the file. The
//   serving process catches it where a container's numbers are read, logs it once and shows the
//   nearest ancestor's numbers instead (fuse/server).
import { readdirSync, readlinkSync, type Dirent } from "node:fs";
import { readKept, readSmallFile, type KeptRead } from "./kept-files.js";

/** Codes that mean "the thing is not there (any more)": a vanished pid, a removed cgroup, a file the kernel does not offer. */
const GONE = new Set(["ENOENT", "ESRCH", "ENOTDIR", "ENODEV"]);
/** Codes that mean "this file has no answer for this cgroup": cgroup.procs of a threaded cgroup
 * (the kernel's EOPNOTSUPP, which Node names ENOTSUP). */
const NOT_APPLICABLE = new Set(["ENOTSUP", "EOPNOTSUPP"]);

function codeOf(err: unknown): string {
  return typeof err === "object" && err !== null ? String((err as NodeJS.ErrnoException).code ?? "") : "";
}

export function isGone(err: unknown): boolean {
  return GONE.has(codeOf(err));
}

/** Gone, or not applicable here: a read that yields null. */
export function isAbsent(err: unknown): boolean {
  const code = codeOf(err);
  return GONE.has(code) || NOT_APPLICABLE.has(code);
}

/** Raised for unexpected read failures (EACCES, EIO, …) or unparsable kernel text; carries the path
 * and, for a failed system call, its error code. */
export class CgroupReadError extends Error {
  readonly code: string | undefined;

  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
    this.name = "CgroupReadError";
    this.code = codeOf(options?.cause) || undefined;
  }
}

/** File text, or null when the file (or the process/cgroup holding it) does not exist or does not apply.
 * `singleRecord`: the kernel writes the file in one piece (see kept-files.ts). */
export function readOptional(path: string, singleRecord = false): string | null {
  return orGone(path, "read", () => readSmallFile(path, singleRecord));
}

/** A cgroup file's text, or null when the file (or its cgroup) does not exist. The descriptor is
 * kept for the next read (see kept-files.ts). */
export function readCgroupFile(path: string): string | null {
  return readKeptOptional(path)?.text ?? null;
}

/** A file re-read through a kept descriptor (see kept-files.ts), or null when it is gone. Only
 * for files of one seq_file record. */
export function readKeptOptional(path: string): KeptRead | null {
  return orGone(path, "read", () => readKept(path));
}

/** First line of a single-value cgroup file, trimmed; null when absent. */
export function readCgroupValue(path: string): string | null {
  return firstLine(readCgroupFile(path));
}

/** Symlink target, or null when the link (or its process) does not exist. */
export function readlinkOptional(path: string): string | null {
  return orGone(path, "readlink", () => readlinkSync(path));
}

/** A directory's entries, or null when it is gone (a cgroup removed while being walked). */
export function listOptional(path: string): Dirent[] | null {
  return orGone(path, "list", () => readdirSync(path, { withFileTypes: true }));
}

/** `access()`'s result; null when what `path` names is gone or does not apply; anything else fails naming `path`. */
function orGone<T>(path: string, verb: string, access: () => T): T | null {
  try {
    return access();
  } catch (err) {
    if (isAbsent(err)) return null;
    throw new CgroupReadError(path, `cannot ${verb}: ${(err as Error).message}`, { cause: err });
  }
}

/** First line of a single-value file, trimmed; null when absent. */
export function readValue(path: string): string | null {
  return firstLine(readOptional(path));
}

function firstLine(text: string | null): string | null {
  if (text === null) return null;
  const nl = text.indexOf("\n");
  return (nl === -1 ? text : text.slice(0, nl)).trim();
}

/** A non-negative decimal integer; throws with the path on anything else. */
export function parseCount(text: string, path: string): number {
  const value = Number(text);
  if (text === "" || !Number.isFinite(value)) throw new CgroupReadError(path, `not a number: ${JSON.stringify(text)}`);
  return value;
}

/**
 * "key value" lines (memory.stat, cpu.stat, cpuacct.stat) into a map. Unparsable values are
 * skipped rather than fatal: new kernels add keys, and one odd line must not hide the rest.
 */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/**
 * One key of a flat-keyed file, looked up straight in the file's text. For memory.stat (~45
 * lines, read on every cache miss of every container) this costs ~1 µs where parseFlatKeyed's
 * map of every line cost ~10 µs. The kernel never repeats a key.
 */
export class FlatKey {
  private readonly head: string;
  private readonly needle: string;

  constructor(readonly key: string) {
    this.head = `${key} `;
    this.needle = `\n${key} `;
  }

  valueIn(text: string): number | undefined {
    let from: number;
    if (text.startsWith(this.head)) from = this.head.length;
    else {
      const at = text.indexOf(this.needle);
      if (at < 0) return undefined;
      from = at + this.needle.length;
    }
    let end = text.indexOf("\n", from);
    if (end < 0) end = text.length;
    const value = Number(text.slice(from, end));
    return Number.isFinite(value) ? value : undefined;
  }
}

/** The cgroup path and its ancestors, deepest first, ending with "/". Paths are absolute inside the hierarchy. */
export function selfAndAncestors(path: string): string[] {
  const out: string[] = [];
  let current = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  while (current !== "/" && current !== "") {
    out.push(current);
    const slash = current.lastIndexOf("/");
    current = slash <= 0 ? "/" : current.slice(0, slash);
  }
  out.push("/");
  return out;
}

/** Directory of a cgroup inside a hierarchy mount; "/" maps to the mount itself. */
export function cgroupDir(mountDir: string, path: string): string {
  return path === "/" ? mountDir : mountDir + path;
}
