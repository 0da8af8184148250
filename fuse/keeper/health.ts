// Is a procview mount alive and answering? Decided from a child process with a timeout, so a
// server that hangs can never hang the one asking.
import { execa } from "execa";
import { readlinkSync } from "node:fs";
import path from "node:path";
import { FSTYPE } from "../kernel/mount.js";
import { readStatus, type KeeperStatus } from "./status.js";
import { keeperStatus } from "./control.js";
import { mountsAt } from "../../core/mountinfo.js";
import { keeperSocketPath, statusPath } from "../../core/paths.js";
import { errorMessage } from "../../core/errors.js";

export type MountHealth = "answering" | "not-mounted" | "dead" | "hung" | "not-procview";

export async function mountHealth(mountPoint: string, timeoutMs = 2000): Promise<MountHealth> {
  const mounts = mountsAt(mountPoint);
  if (mounts.length === 0) return "not-mounted";
  if (!mounts.some((m) => m.fstype === FSTYPE)) return "not-procview";
  const result = await execa("head", ["-c", "9", path.join(mountPoint, "proc/meminfo")], {
    reject: false,
    timeout: timeoutMs,
    killSignal: "SIGKILL",
  });
  if (result.timedOut) return "hung";
  if (result.exitCode !== 0) return "dead";
  return result.stdout === "MemTotal:" ? "answering" : "dead";
}

export interface ServiceHealth {
  mountPoint: string;
  mount: MountHealth;
  /** The keeper's live account, or the last one it wrote when it does not answer. */
  status: KeeperStatus | null;
  /** The keeper answered on its control socket. */
  keeperAlive: boolean;
  /** Why it did not, when it did not. */
  keeperProblem: string | null;
  servingAlive: boolean;
  healthy: boolean;
}

export async function serviceHealth(mountPoint: string, runtimeDir: string): Promise<ServiceHealth> {
  let keeperProblem: string | null = null;
  const asked = keeperStatus(mountPoint, runtimeDir).catch((err: unknown) => {
    keeperProblem = errorMessage(err);
    return null;
  });
  const [live, mount] = await Promise.all([asked, mountHealth(mountPoint)]);
  const status = live ?? readStatus(statusPath(mountPoint, runtimeDir));
  const keeperAlive = live !== null;
  keeperProblem ??= keeperAlive ? null : `no keeper answers on ${keeperSocketPath(mountPoint, runtimeDir)}`;
  const servingAlive = live?.servingPid != null;
  return {
    mountPoint,
    mount,
    status,
    keeperAlive,
    keeperProblem,
    servingAlive,
    healthy: mount === "answering" && keeperAlive && servingAlive,
  };
}

/**
 * The part the keeper of the asking process's container plays for the mountpoint: it serves
 * it, it waits to take it over, or neither. "This container" is this process's mount
 * namespace, which every process of a container shares (those exec'd into it too), so a
 * Kubernetes probe can tell its own pod's keeper from another pod's on the same node while
 * both share the host's pid namespace. A pid this process cannot see is nobody's here.
 */
export type KeeperHere = "serving" | "taking-over" | "elsewhere";

export function keeperHere(status: KeeperStatus, procRoot = "/proc"): KeeperHere {
  const ns = (pid: number | "self"): string | null => {
    try {
      return readlinkSync(path.join(procRoot, String(pid), "ns/mnt"));
    } catch {
      return null;
    }
  };
  const own = ns("self");
  if (own === null) return "elsewhere";
  if (ns(status.keeperPid) === own) return "serving";
  if (status.successorWaiting && status.successorPid !== null && ns(status.successorPid) === own) return "taking-over";
  return "elsewhere";
}
