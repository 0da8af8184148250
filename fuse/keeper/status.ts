// The keeper's account of itself, for `procview status`, `procview reload` and `doctor`:
// one JSON file per mountpoint under the runtime directory, replaced atomically.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { describeZodError } from "../../core/errors.js";

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
    throw new Error(`cannot read ${path}: ${String(err)}`, { cause: err });
  }
  const parsed = KeeperStatusSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is not a procview status file: ${describeZodError(parsed.error)}`);
  return parsed.data;
}
