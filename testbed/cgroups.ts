// Real cgroup v1 groups with real limits for the live tests, and readers started inside them.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { execa } from "execa";

export const CGROUP_ROOT = "/sys/fs/cgroup";
export const V1_CONTROLLERS = ["memory", "cpu", "cpuacct", "cpuset", "blkio", "pids"] as const;
/** The cgroup2 hierarchy of this hybrid host: no controllers, but PSI per cgroup. */
export const UNIFIED_ROOT = join(CGROUP_ROOT, "unified");
export type V1Controller = (typeof V1_CONTROLLERS)[number];

export interface CgroupSettings {
  /** Relative path below every controller's root, e.g. "procview-test-x/child". */
  path?: string;
  memoryLimitBytes?: number;
  memswLimitBytes?: number;
  cpus?: string;
  cfsQuotaUs?: number;
  cfsPeriodUs?: number;
  /** Also create the group in the cgroup2 hierarchy (/sys/fs/cgroup/unified here), where the
   * kernel keeps PSI, and have readers join it there too, as runc places containers. */
  unified?: boolean;
}

export interface TestCgroup {
  /** Path relative to each controller root, starting with "/". */
  path: string;
  dir(controller: V1Controller): string;
  /** The group's directory in the cgroup2 hierarchy; null unless created with `unified`. */
  unifiedDir: string | null;
  /** The cgroup.procs files of every controller, for a reader to join them all. */
  procsFiles(): string[];
  remove(): Promise<void>;
}

export function uniqueName(prefix = "procview-test"): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** Creates the group (and missing parents) in every v1 controller and applies the settings. */
export function createCgroup(settings: CgroupSettings = {}): TestCgroup {
  const path = `/${settings.path ?? uniqueName()}`;
  const created: string[] = [];
  const roots = V1_CONTROLLERS.map((c) => join(CGROUP_ROOT, c));
  if (settings.unified) roots.push(UNIFIED_ROOT);
  for (const root of roots) {
    const controller = root.slice(CGROUP_ROOT.length + 1);
    let current = root;
    for (const part of path.split("/").filter(Boolean)) {
      current = join(current, part);
      if (!existsSync(current)) {
        mkdirSync(current);
        created.push(current);
        if (controller === "cpuset") {
          // A new v1 cpuset starts empty and refuses tasks until cpus and mems are set.
          const parent = join(current, "..");
          writeFileSync(join(current, "cpuset.mems"), readFileSync(join(parent, "cpuset.mems")));
          writeFileSync(join(current, "cpuset.cpus"), readFileSync(join(parent, "cpuset.cpus")));
        }
      }
    }
  }
  const dir = (controller: V1Controller) => join(CGROUP_ROOT, controller, path);
  if (settings.memoryLimitBytes !== undefined)
    writeFileSync(join(dir("memory"), "memory.limit_in_bytes"), String(settings.memoryLimitBytes));
  if (settings.memswLimitBytes !== undefined)
    writeFileSync(join(dir("memory"), "memory.memsw.limit_in_bytes"), String(settings.memswLimitBytes));
  if (settings.cpus !== undefined) writeFileSync(join(dir("cpuset"), "cpuset.cpus"), settings.cpus);
  if (settings.cfsPeriodUs !== undefined) writeFileSync(join(dir("cpu"), "cpu.cfs_period_us"), String(settings.cfsPeriodUs));
  if (settings.cfsQuotaUs !== undefined) writeFileSync(join(dir("cpu"), "cpu.cfs_quota_us"), String(settings.cfsQuotaUs));

  const unifiedDir = settings.unified ? join(UNIFIED_ROOT, path) : null;
  return {
    path,
    dir,
    unifiedDir,
    procsFiles: () => [
      ...V1_CONTROLLERS.map((c) => join(dir(c), "cgroup.procs")),
      ...(unifiedDir ? [join(unifiedDir, "cgroup.procs")] : []),
    ],
    async remove() {
      // Deepest first.
      for (const directory of created.reverse()) await removeCgroupDir(directory);
    },
  };
}

/** rmdir with retries: a group still holding a task that was just killed is busy a moment. */
export async function removeCgroupDir(directory: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(directory);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY" || attempt >= 100) throw new Error(`cannot remove cgroup ${directory}: ${String(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The root group of every controller: where host processes sit. */
export function rootProcsFiles(): string[] {
  return V1_CONTROLLERS.map((c) => join(CGROUP_ROOT, c, "cgroup.procs"));
}

// The reader moves itself into the groups, then execs the command: the first read it does is
// already inside them. The script is fixed; paths and the command travel as arguments.
export const JOIN_THEN_EXEC = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"';

/** The command line that runs `script` (sh, with `args` as $0, $1, …) in a mount namespace of
 * its own, with private propagation: binds made there (as the hook binds views) stay there. */
export function inPrivateMountNamespace(script: string, ...args: string[]): string[] {
  return ["unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, ...args];
}

/** Starts `command` in the cgroups whose cgroup.procs files are given, and leaves it running. */
export function startInCgroup(procsFiles: string[], command: string[], options: { timeoutMs?: number } = {}) {
  return execa("/bin/sh", ["-c", JOIN_THEN_EXEC, "sh", ...procsFiles, "--", ...command], { reject: false, timeout: options.timeoutMs });
}

export async function runInCgroup(procsFiles: string[], command: string[], options: { timeoutMs?: number } = {}) {
  const result = await startInCgroup(procsFiles, command, { timeoutMs: options.timeoutMs ?? 20_000 });
  if (result.exitCode !== 0) {
    throw new Error(`${command.join(" ")} in ${procsFiles[0]} failed (${result.exitCode}): ${result.stderr}`);
  }
  return result.stdout;
}

export function readKb(meminfo: string, key: string): number {
  const match = new RegExp(`^${key.replace(/[()]/g, "\\$&")}:\\s+(\\d+) kB$`, "m").exec(meminfo);
  if (!match) throw new Error(`no ${key} line in:\n${meminfo}`);
  return Number(match[1]);
}

export function countProcessors(cpuinfo: string): number {
  return cpuinfo.split("\n").filter((line) => /^processor\s*:/.test(line)).length;
}
