// Live cgroup v2 shapes on this machine's cgroup2 hierarchy (/sys/fs/cgroup/unified on the
// hybrid host): it has no controllers, but it takes nested cgroups, threaded cgroups and real
// processes, and `procview serve --cgroup-root <it>` sees a pure v2 layout there. Containers
// are made of unshare(1) and nsenter(1): a pid namespace (so the container rule applies), a
// mount namespace, and optionally a cgroup namespace rooted at the container's cgroup with
// cgroup2 mounted in it, as engines give containers on v2.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { execa } from "execa";
import { UNIFIED_ROOT, removeCgroupDir, uniqueName } from "./cgroups.js";
import { waitFor } from "./wait.js";

export { UNIFIED_ROOT };

export interface V2Tree {
  /** Path of the tree's top inside the hierarchy, e.g. "/procview-v2-1a2b3c4d". */
  path: string;
  /** The directory of a cgroup below the top ("" for the top itself). */
  dir(relative?: string): string;
  /** Path inside the hierarchy, as /proc/<pid>/cgroup shows it. */
  pathOf(relative?: string): string;
  /** Makes the cgroup (and its parents); threaded: writes "threaded" to its cgroup.type. */
  make(relative: string, options?: { threaded?: boolean }): string;
  /** Kills every process left in the tree, then removes it, deepest first. */
  remove(): Promise<void>;
}

/** A fresh tree under the cgroup2 hierarchy; the caller removes it. */
export function createV2Tree(prefix = "procview-v2"): V2Tree {
  if (!existsSync(join(UNIFIED_ROOT, "cgroup.controllers"))) throw new Error(`no cgroup2 hierarchy at ${UNIFIED_ROOT}`);
  const path = `/${uniqueName(prefix)}`;
  const top = join(UNIFIED_ROOT, path);
  mkdirSync(top);
  const dir = (relative = "") => (relative === "" ? top : join(top, relative));
  return {
    path,
    dir,
    pathOf: (relative = "") => (relative === "" ? path : `${path}/${relative}`),
    make(relative, options = {}) {
      let current = top;
      for (const part of relative.split("/")) {
        current = join(current, part);
        if (!existsSync(current)) mkdirSync(current);
      }
      if (options.threaded) writeFileSync(join(current, "cgroup.type"), "threaded");
      return current;
    },
    async remove() {
      const all: string[] = [];
      const visit = (d: string) => {
        all.push(d);
        for (const entry of readdirSync(d, { withFileTypes: true })) if (entry.isDirectory()) visit(join(d, entry.name));
      };
      if (!existsSync(top)) return;
      visit(top);
      for (const d of all) {
        // cgroup.kill (5.14+) kills every process of the subtree, threaded ones included.
        try {
          writeFileSync(join(d, "cgroup.kill"), "1");
        } catch {
          // Older kernel or already gone: the rmdir retries below still wait for exits.
        }
      }
      for (const d of all.reverse()) await removeCgroupDir(d);
    },
  };
}

/** Thread ids listed in a cgroup (cgroup.threads). */
export function threadsIn(dir: string): number[] {
  return readFileSync(join(dir, "cgroup.threads"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map(Number);
}

/** Host pid of the child of `parent` (unshare --fork's child: the namespace's init). */
function childOf(parent: number): number | null {
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      if (/^PPid:\s+(\d+)$/m.exec(status)?.[1] === String(parent)) return Number(name);
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

export interface LiveContainer {
  /** Host pid of the container's init (pid 1 of its namespace). */
  initPid: number;
  /** Runs `command` inside the container's pid (and cgroup) namespace, first moved into the cgroup `dir`
   * (its single thread into `threadDir` as well, when given): what `podman exec` does. Resolves with stdout. */
  exec(dir: string, command: string[], options?: { threadDir?: string }): Promise<string>;
  /** Kills the init (and with it every process of its pid namespace); their cgroups empty as they exit. */
  stop(): Promise<void>;
}

export interface ContainerSpec {
  /** The container's cgroup: the init joins it first, and a private cgroup namespace is rooted there. */
  root: string;
  /** Where the init then moves itself (e.g. <root>/init.scope); default: stays in root. */
  initDir?: string;
  /** Cgroups each given one long-running process, a child of the init (its services). */
  serviceDirs?: string[];
  /** A private cgroup namespace rooted at `root`, with cgroup2 mounted inside (default true). */
  cgroupNamespace?: boolean;
  /** Cgroup directories to put a busy thread in (one process each, its one thread moved by cgroup.threads). */
  busyThreadDirs?: string[];
}

// The init: mounts cgroup2 (its root is the cgroup namespace's), moves itself, starts services
// and busy threads, then sleeps. Arguments: mount dir or "-", init dir, then "svc:<dir>" /
// "busy:<domain dir>:<threaded dir>" items.
const INIT_SCRIPT = `
set -e
if [ "$1" != - ]; then mount -t cgroup2 none "$1"; fi
echo 0 > "$2/cgroup.procs"
shift 2
for item in "$@"; do
  case "$item" in
    svc:*) (echo 0 > "\${item#svc:}/cgroup.procs"; exec sleep 600) & ;;
    busy:*) rest="\${item#busy:}"; (echo 0 > "\${rest%%:*}/cgroup.procs"; echo 0 > "\${rest#*:}/cgroup.threads"; while :; do :; done) & ;;
  esac
done
exec sleep 600
`;

/** A container on the cgroup2 hierarchy, its init and services running when this resolves. */
export async function startLiveContainer(spec: ContainerSpec): Promise<LiveContainer> {
  const cgroupNamespace = spec.cgroupNamespace ?? true;
  const mountDir = cgroupNamespace ? mkdtempSync(join(tmpdir(), "procview-cg2-")) : "-";
  const items = [
    ...(spec.serviceDirs ?? []).map((d) => `svc:${d}`),
    ...(spec.busyThreadDirs ?? []).map((d) => `busy:${join(d, "..")}:${d}`),
  ];
  const unshare = ["unshare", ...(cgroupNamespace ? ["--cgroup"] : []), "--pid", "--fork", "--mount", "--propagation", "private"];
  // The launcher joins the root first: unshare --cgroup roots the namespace at its cgroup.
  const launcher: ChildProcess = spawn(
    "/bin/sh",
    [
      "-c",
      'echo 0 > "$1/cgroup.procs" && shift && exec "$@"',
      "sh",
      spec.root,
      ...unshare,
      "/bin/sh",
      "-c",
      INIT_SCRIPT,
      "init",
      mountDir,
      spec.initDir ?? spec.root,
      ...items,
    ],
    { stdio: "ignore" },
  );
  await new Promise((resolve, reject) => launcher.once("spawn", resolve).once("error", reject));
  const initPid = await waitFor("the container's init", () => childOf(launcher.pid!), { timeoutMs: 10_000, intervalMs: 20 });
  const expected = (spec.serviceDirs ?? []).length + (spec.busyThreadDirs ?? []).length;
  await waitFor(
    "the container's services",
    () => {
      const inInit = threadsIn(spec.initDir ?? spec.root).includes(initPid);
      const placed = [...(spec.serviceDirs ?? []), ...(spec.busyThreadDirs ?? [])].filter((d) => threadsIn(d).length > 0).length;
      return inInit && placed === expected;
    },
    { timeoutMs: 10_000, intervalMs: 20 },
  );
  const enter = ["nsenter", "--target", String(initPid), "--pid", ...(cgroupNamespace ? ["--cgroup"] : []), "--"];
  return {
    initPid,
    async exec(dir, command, options = {}) {
      const join = options.threadDir === undefined ? "" : ' && echo 0 > "$2/cgroup.threads"';
      const result = await execa(
        enter[0]!,
        [
          ...enter.slice(1),
          "/bin/sh",
          "-c",
          `echo 0 > "$1/cgroup.procs"${join} && shift 2 && exec "$@"`,
          "sh",
          dir,
          options.threadDir ?? "-",
          ...command,
        ],
        { reject: false, timeout: 20_000 },
      );
      if (result.exitCode !== 0) throw new Error(`${command.join(" ")} in ${dir} failed (${result.exitCode}): ${result.stderr}`);
      return result.stdout;
    },
    stop() {
      launcher.kill("SIGKILL");
      try {
        process.kill(initPid, "SIGKILL"); // its children die with the namespace's init
      } catch {
        // already gone
      }
      // The cgroup2 mount lived in the container's mount namespace only: the directory is free.
      if (mountDir !== "-") rmdirSync(mountDir);
      return Promise.resolve();
    },
  };
}
