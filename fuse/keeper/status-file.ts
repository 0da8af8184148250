// The keeper's account of itself, for `procview status`, `procview reload` and `doctor`:
// one JSON file per mountpoint under the runtime directory, replaced atomically.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export const DEFAULT_RUNTIME_DIR = "/run/procview";

export const KeeperStatusSchema = z.object({
  mountPoint: z.string(),
  keeperPid: z.number().int(),
  keeperStartedAt: z.number(),
  servingPid: z.number().int().nullable(),
  servingStartedAt: z.number().nullable(),
  /** Serving processes started because the previous one died. */
  restarts: z.number().int(),
  /** Serving processes started by `procview reload` / SIGHUP. */
  reloads: z.number().int(),
  /** Dead views in running containers brought back at start. */
  restoredViews: z.number().int(),
  opens: z.number(),
  rerendered: z.number(),
  renderFailures: z.number(),
  containers: z.number(),
  /** Hooks the serving processes ran for procview-hook, and where it asks them (null: not listening). */
  hooksServed: z.number(),
  hookSocket: z.string().nullable(),
  updatedAt: z.number(),
});
export type KeeperStatus = z.infer<typeof KeeperStatusSchema>;

function runtimeName(mountPoint: string): string {
  // One name per mountpoint: "/var/lib/procview" → "var-lib-procview".
  return mountPoint.replace(/^\/+/, "").replace(/[^A-Za-z0-9._-]+/g, "-") || "root";
}

export function statusPath(mountPoint: string, runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, `${runtimeName(mountPoint)}.json`);
}

/** sun_path holds 108 bytes, the last one a NUL. */
export const SOCKET_PATH_MAX_BYTES = 107;

/** Where a serving process makes its hook socket before renaming it into place (the same
 * directory, so that the rename is atomic). */
export function hookSocketTemporary(path: string, pid: number): string {
  return `${path}.${pid}.tmp`;
}

/** The socket and its temporary name (a pid has at most 7 digits) both fit in sun_path. */
export function fitsSocketPath(path: string): boolean {
  return Buffer.byteLength(hookSocketTemporary(path, 9_999_999)) <= SOCKET_PATH_MAX_BYTES;
}

/** The socket procview-hook asks the service serving this mountpoint on. */
export function hookSocketPath(mountPoint: string, runtimeDir = DEFAULT_RUNTIME_DIR): string {
  return join(runtimeDir, `${runtimeName(mountPoint)}.hook.sock`);
}

export function writeStatus(path: string, status: KeeperStatus): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(status));
  renameSync(temporary, path);
}

/** null when there is no status file (no keeper ever ran for this mountpoint). */
export function readStatus(path: string): KeeperStatus | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`cannot read ${path}: ${String(err)}`);
  }
  const parsed = KeeperStatusSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is not a procview status file: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
