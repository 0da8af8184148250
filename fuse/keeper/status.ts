// The keeper's account of itself, for `procview status`, `procview reload` and `doctor`: the
// keeper (fuse/keeper/native/control.c) answers it on its control socket, and leaves the last
// one in a file (mode 0644, replaced atomically) for when nobody answers any more.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeZodError } from "../../core/errors.js";

export const KeeperStatusSchema = z.object({
  mountPoint: z.string(),
  keeperPid: z.number().int(),
  keeperStartedAt: z.number(),
  keeperRssBytes: z.number().default(0),
  servingPid: z.number().int().nullable(),
  servingStartedAt: z.number().nullable(),
  /** The pre-started process that takes over when the serving one dies or hangs. */
  standbyPid: z.number().int().nullable().default(null),
  /** Loaded and waiting (false while it starts). */
  standbyReady: z.boolean().default(false),
  /** Serving processes started because the previous one died. */
  restarts: z.number().int(),
  /** Serving processes started by `procview reload` / SIGHUP. */
  reloads: z.number().int(),
  /** Serving processes replaced by the watchdog because they stopped answering. */
  hangs: z.number().int().default(0),
  /** Times the mount was handed from one keeper to the next (`procview serve --take-over`). */
  handoffs: z.number().int().default(0),
  /** Dead views in running containers brought back at start. */
  restoredViews: z.number().int(),
  opens: z.number(),
  rerendered: z.number(),
  renderFailures: z.number(),
  containers: z.number(),
  /** Hooks the serving processes ran for procview-hook, and where it asks them (null: not listening). */
  hooksServed: z.number(),
  hookSocket: z.string().nullable(),
  /** 0: no watchdog. */
  watchdogMs: z.number().int().default(0),
  /** A keeper started with --take-over waits for this one to stop. */
  successorWaiting: z.boolean().default(false),
  /** Where the per-container tree is mounted (null: not mounted, containers/ is the main tree's). */
  containerTree: z.string().nullable().default(null),
  /** Files of the per-container tree filled into the kernel's page cache, and invalidated. */
  fills: z.number().default(0),
  invalidations: z.number().default(0),
  /** Requests the per-container tree answered (a read from the page cache makes none). */
  treeRequests: z.number().default(0),
  /** That keeper's pid, as this keeper's pid namespace numbers it (null: none waits, or unknown). */
  successorPid: z.number().int().nullable().default(null),
  updatedAt: z.number(),
});
export type KeeperStatus = z.infer<typeof KeeperStatusSchema>;

export function parseStatus(text: string, from: string): KeeperStatus {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${from} did not give a procview status (not JSON)`);
  }
  const parsed = KeeperStatusSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${from} did not give a procview status: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** The last status a keeper wrote; null when there is no file (no keeper ever ran for this mountpoint). */
export function readStatus(path: string): KeeperStatus | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`cannot read ${path}: ${String(err)}`, { cause: err });
  }
  return parseStatus(text, path);
}
