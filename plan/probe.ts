// Is the source alive? A hung FUSE server blocks every open() on it, and a
// blocked syscall in this process could keep the hook (and with it `runc
// create`) waiting forever. So the first read happens in a child process that
// is SIGKILLed at the deadline, and we stop waiting for it even if the kill
// cannot land (the caller ends with process.exit, which does not wait for
// children).
import { readFile, stat } from "node:fs/promises";
import { execa } from "execa";
import { tool } from "../core/tools.js";
import { CONTAINERS_DIR, CONTAINER_ID } from "../core/layout.js";
import { register, type Registration } from "../core/registry.js";
import { registryDir } from "../core/paths.js";
import { errorMessage } from "../core/errors.js";

export type ProbeResult = { ok: true } | { ok: false; reason: string };

function deadline<T>(ms: number, value: T): { promise: Promise<T>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(value), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** What a probe saw: the first bytes of the file, or why there are none. */
type Probed = { text: string } | { late: true } | { unreadable: string };

/** One verdict for both probes. */
function judge(source: string, file: string, timeoutMs: number, probed: Probed): ProbeResult {
  if ("late" in probed) return { ok: false, reason: `source ${source} did not answer within ${timeoutMs} ms (reading ${file})` };
  if ("unreadable" in probed) return { ok: false, reason: `source ${source} is not mounted or not readable: ${probed.unreadable}` };
  if (!probed.text.startsWith("MemTotal:")) {
    return { ok: false, reason: `source ${source} does not look like an LXCFS-layout directory (${file} does not start with MemTotal:)` };
  }
  return { ok: true };
}

/** Read the first bytes of <source>/proc/meminfo within timeoutMs. */
export async function probeSource(source: string, timeoutMs: number): Promise<ProbeResult> {
  const file = `${source}/proc/meminfo`;
  const child = execa(tool("head"), ["-c", "64", "--", file], {
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    forceKillAfterDelay: false,
    reject: false,
    stdin: "ignore",
    cleanup: true,
  });
  const late = deadline(timeoutMs + 250, "late" as const);
  const outcome = await Promise.race([child, late.promise]);
  late.cancel();
  if (outcome === "late" || outcome.timedOut) {
    child.kill("SIGKILL");
    child.catch(() => undefined);
    return judge(source, file, timeoutMs, { late: true });
  }
  if (outcome.exitCode !== 0) {
    const why =
      String(outcome.stderr ?? "")
        .trim()
        .split("\n")[0] || `head exited ${outcome.exitCode}`;
    return judge(source, file, timeoutMs, { unreadable: why.replace(/^head: /, "") });
  }
  return judge(source, file, timeoutMs, { text: String(outcome.stdout) });
}

/**
 * The same check for the mountpoint this very process serves (procview-hook's requests, run in
 * the serving process): its FUSE threads answer while the process lives, so the read cannot hang on a
 * dead server and needs no child process (a spawn costs ~10 ms on a 2-CPU VM). Still bounded.
 */
export async function probeOwnSource(source: string, timeoutMs: number): Promise<ProbeResult> {
  const file = `${source}/proc/meminfo`;
  const late = deadline(timeoutMs, { late: true } as const);
  const read = readFile(file, "utf8").then(
    (text): Probed => ({ text }),
    (err: Error): Probed => ({ unreadable: err.message }),
  );
  const probed = await Promise.race([read, late.promise]);
  late.cancel();
  return judge(source, file, timeoutMs, probed);
}

/** Which of the given source files exist as regular files. Only called after probeSource succeeded, still bounded by a deadline. */
export async function existingSources(paths: readonly string[], timeoutMs: number): Promise<Set<string> | undefined> {
  const checks = Promise.all(
    paths.map(async (p) => {
      try {
        return (await stat(p)).isFile() ? p : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  const late = deadline(timeoutMs, undefined);
  const result = await Promise.race([checks, late.promise]);
  late.cancel();
  return result ? new Set(result.filter((p): p is string => p !== undefined)) : undefined;
}

/** What the integration knows of the container it binds views into (see core/registry.ts). */
export interface ContainerIdentity {
  /** Where `procview serve` keeps its runtime files (its --runtime-dir). */
  runtimeDir: string;
  /** The container's init (the OCI hook), or its cgroups path (the NRI plugin). */
  record: Omit<Registration, "id" | "at">;
}

export interface ContainerSource {
  /** The directory the container's views are bound from. */
  dir: string;
  /** Why that is the source's top level rather than the container's own copy. */
  why?: string;
}

/** Whether `path` is a directory, within the deadline. */
async function isDirectory(path: string, timeoutMs: number): Promise<boolean> {
  const late = deadline(timeoutMs, false);
  const found = await Promise.race([
    stat(path).then(
      (s) => s.isDirectory(),
      () => false,
    ),
    late.promise,
  ]);
  late.cancel();
  return found;
}

/**
 * Where a container's views come from: procview serves every container a copy of the layout
 * with inodes of its own under <source>/containers/<id>/, served from the kernel's page cache
 * and holding the view of the container the id names, which procview learns from `identity`
 * (registered first); a plain LXCFS-layout source has none, and its top level is used.
 * Bounded by the same deadline as the other checks; only called after probeSource succeeded.
 */
export async function containerSource(
  source: string,
  containerId: string,
  timeoutMs: number,
  identity?: ContainerIdentity,
): Promise<ContainerSource> {
  if (!CONTAINER_ID.test(containerId)) return { dir: source, why: `container id ${JSON.stringify(containerId)} has no copy of its own` };
  const containers = `${source}/${CONTAINERS_DIR}`;
  if (!(await isDirectory(containers, timeoutMs))) return { dir: source };
  if (identity !== undefined) {
    try {
      register(registryDir(source, identity.runtimeDir), { ...identity.record, id: containerId, at: Date.now() });
    } catch (err) {
      return { dir: source, why: `cannot register the container with procview: ${errorMessage(err)}` };
    }
  }
  const own = `${containers}/${containerId}`;
  const present = await existingSources([`${own}/proc/meminfo`], timeoutMs);
  return present?.has(`${own}/proc/meminfo`) ? { dir: own } : { dir: source, why: `${own} does not answer` };
}
