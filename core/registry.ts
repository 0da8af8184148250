// Which container an id under <mountpoint>/containers/ names. The files there are served from
// the kernel's page cache, which every reader of an inode shares, so their content cannot be
// rendered for whoever happens to read first: it is the view of the container the id names. The
// integrations record that when they bind the views (the OCI hook knows the container's init,
// the NRI plugin its cgroups path); the serving process reads it, and the record outlives the
// serving process, the keeper and a full restart (it is under the runtime directory, a tmpfs).
//
// One file per container, <runtime dir>/containers/<mountpoint name>/<id>.json, written by root
// (0644 in a 0755 directory), replaced whole (rename), removed by the serving process once the
// container is gone.
import { closeSync, constants, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { z } from "zod";
import { CONTAINER_ID, containerHash } from "./layout.js";
import { FLOCK_ADDON } from "./paths.js";
import { errnoCode } from "./errors.js";

export const RegistrationSchema = z
  .object({
    id: z.string().regex(CONTAINER_ID),
    /** The container's init, as a host pid, with its start time (clock ticks after boot, field
     * 22 of /proc/<pid>/stat): a pid reused by another process does not match. */
    pid: z.number().int().positive().optional(),
    startTicks: z.number().int().nonnegative().optional(),
    /** The OCI spec's linux.cgroupsPath (a path, or systemd's slice:prefix:name). */
    cgroupsPath: z.string().min(1).max(4096).optional(),
    /** Who recorded it. */
    by: z.enum(["hook", "nri", "restore"]),
    /** When (ms since the epoch). */
    at: z.number(),
  })
  .refine((r) => (r.pid !== undefined && r.startTicks !== undefined) || r.cgroupsPath !== undefined, {
    message: "a registration names the container's init (pid and startTicks) or its cgroupsPath",
  });
export type Registration = z.infer<typeof RegistrationSchema>;

function fileOf(dir: string, id: string): string {
  return join(dir, `${id}.json`);
}

/** How long a registration waits for the registry's lock (held for a listing and a write). */
const LOCK_WAIT_MS = 5000;

/** Runs `work` holding the registry's lock: flock(2) on <dir>/.lock, dropped by the kernel
 * however the holder ends (Node has no flock: nri/native/procview-flock.c). */
function locked<T>(dir: string, work: () => T): T {
  const addon = createRequire(import.meta.url)(FLOCK_ADDON) as { tryLock(fd: number): boolean };
  const fd = openSync(join(dir, ".lock"), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  try {
    const until = Date.now() + LOCK_WAIT_MS;
    while (!addon.tryLock(fd)) {
      if (Date.now() > until) throw new Error(`the registry ${dir} stayed locked for ${LOCK_WAIT_MS} ms`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
    }
    return work();
  } finally {
    closeSync(fd);
  }
}

/**
 * Records a container (replacing what was recorded for its id). Refused when another registered
 * container's id has the same hash (core/layout.ts containerHash): both would be one inode, one
 * page cache, and one would read the other's numbers. The hash is not keyed, so such an id can be
 * chosen; refusing it (the integrations then bind the top-level files, rendered per reader) keeps
 * node ids stateless, the same in every serving process and across restarts, which an inode
 * allocated per registration would not be. Checked and written under the registry's lock.
 */
export function register(dir: string, record: Registration): void {
  const checked = RegistrationSchema.parse(record);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  locked(dir, () => {
    const hash = containerHash(checked.id);
    const holder = registeredIds(dir).find((id) => id !== checked.id && containerHash(id) === hash && registration(dir, id) !== null);
    if (holder !== undefined)
      throw new Error(`container id ${checked.id} has the same node ids as registered container ${holder}: not registered`);
    const file = fileOf(dir, checked.id);
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(checked) + "\n", { mode: 0o644 });
    renameSync(temporary, file);
  });
}

/** What is recorded for an id; null when nothing (or nothing valid) is. */
export function registration(dir: string, id: string): Registration | null {
  if (!CONTAINER_ID.test(id)) return null;
  let text: string;
  try {
    text = readFileSync(fileOf(dir, id), "utf8");
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return null;
    throw err;
  }
  try {
    const parsed = RegistrationSchema.safeParse(JSON.parse(text));
    return parsed.success && parsed.data.id === id ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Which record an id has: its file's inode and mtime (a registration is replaced whole, by a
 * rename, so a new one always has another inode), null when there is none. A stat, a few µs:
 * cheap enough to check at every use of what was read from the record. */
export function registrationStamp(dir: string, id: string): string | null {
  if (!CONTAINER_ID.test(id)) return null;
  try {
    const st = statSync(fileOf(dir, id), { bigint: true });
    return `${st.ino}:${st.mtimeNs}`;
  } catch (err) {
    if (errnoCode(err) === "ENOENT" || errnoCode(err) === "ENOTDIR") return null;
    throw err;
  }
}

/** Every id recorded, sorted. */
export function registeredIds(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith(".json"))
    .map((n) => n.slice(0, -".json".length))
    .filter((id) => CONTAINER_ID.test(id))
    .sort();
}

/** Removes what is recorded for an id; with `stamp` (registrationStamp), only while the record
 * is still that one: a removal decided on what was read leaves a re-registration made since. */
export function unregister(dir: string, id: string, stamp?: string | null): void {
  if (!CONTAINER_ID.test(id)) return;
  if (stamp !== undefined && registrationStamp(dir, id) !== stamp) return;
  rmSync(fileOf(dir, id), { force: true });
}
