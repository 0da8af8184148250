// `procview doctor`: everything procview needs on this machine, one row each, with what to do
// about a failure. Exits 1 when anything a container's views depend on is wrong.
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { Command } from "commander";
import { execa } from "execa";
import { FUSE_DEVICE } from "../fuse/kernel/mount.js";
import { detectLayout } from "../fuse/cgroup/layout.js";
import { privateCgroupNamespace } from "../fuse/cgroup/process.js";
import { serviceHealth, type ServiceHealth } from "../fuse/keeper/health.js";
import { podmanHooksDirs } from "../install/hooks-dir.js";
import { HooksFileSchema, hookPrograms } from "../install/hooks-file.js";
import { HOOKS_FILE_NAME } from "../install/cli.js";
import { renderTable, type Row } from "./table.js";
import {
  DEFAULT_RUNTIME_DIR,
  NSMOUNT_HELPER,
  DEFAULT_MOUNTPOINT,
  DEFAULT_CONTAINERD_CONFIG,
  KEEPER_PROGRAM,
  EXEC_ADDON,
  INVALIDATE_ADDON,
} from "../core/paths.js";
import { parseContainerdVersion, readContainerdSetup, setupNri } from "../install/containerd-config.js";

interface Flags {
  mountpoint: string;
  cgroupRoot: string;
  runtimeDir: string;
  containerdConfig: string;
  containerd: string;
}

function fuseDevice(): Row {
  try {
    closeSync(openSync(FUSE_DEVICE, "r+"));
    return { label: "FUSE", value: `${FUSE_DEVICE} opens`, ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = code === "ENOENT" ? "modprobe fuse" : "run as root";
    return { label: "FUSE", value: `${FUSE_DEVICE}: ${code} (${fix})`, ok: false };
  }
}

function cgroups(cgroupRoot: string): Row {
  try {
    const layout = detectLayout(cgroupRoot);
    // v2 reaches every controller at the root whether the kernel offers it or not: what the
    // root's cgroup.controllers lists is what there is.
    const found = layout.mode === "v2" ? [...(layout.v2Controllers ?? [])].sort() : Object.keys(layout.mounts).sort();
    const missing = ["memory", "cpu", "cpuset"].filter((c) => !found.includes(c));
    return {
      label: "cgroups",
      value: `${layout.mode} at ${cgroupRoot}; controllers: ${found.join(", ") || "none"}${missing.length ? `; missing ${missing.join(", ")}: those views stay the host's` : ""}`,
      ok: missing.length === 0,
    };
  } catch (err) {
    return { label: "cgroups", value: `cannot read ${cgroupRoot}: ${(err as Error).message}`, ok: false };
  }
}

function cgroupNamespace(): Row {
  const problem = privateCgroupNamespace();
  return { label: "cgroup ns", value: problem ?? "the host's (every container's cgroup can be named)", ok: problem === null };
}

async function installed(binary: string): Promise<string | null> {
  const result = await execa(binary, ["--version"], { reject: false, timeout: 5000 });
  return result.exitCode === 0 ? String(result.stdout).split("\n")[0]!.trim() : null;
}

/** Is a valid procview hooks file, whose hook exists, in one of `dirs`? */
function hookIn(dirs: string[]): { dir: string | null; problem: string | null } {
  for (const dir of dirs) {
    const file = `${dir}/${HOOKS_FILE_NAME}`;
    if (!existsSync(file)) continue;
    const parsed = HooksFileSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (!parsed.success) return { dir, problem: `${file} is not a valid hooks file` };
    const missing = hookPrograms(parsed.data.hook).filter((p) => !existsSync(p));
    if (missing.length) return { dir, problem: `${file} runs ${missing.join(", ")}, which does not exist (procview install hooks)` };
    return { dir, problem: null };
  }
  return { dir: null, problem: `no ${HOOKS_FILE_NAME} in ${dirs.join(", ")} (procview install hooks)` };
}

/**
 * containerd: NRI on or off as containerd reads its config (the installer's reader: any TOML
 * form, imports merged, each line's default when disable is unset) and a procview launcher in
 * the plugin directory it starts plugins from.
 */
async function containerdRow(binary: string, config: string): Promise<Row> {
  const reported = await installed(binary);
  if (!reported) return { label: "containerd", value: "not installed" };
  try {
    const { line } = parseContainerdVersion(reported);
    const nri = setupNri(await readContainerdSetup(config), line);
    const pluginDir = nri.pluginPath;
    const launcher = existsSync(pluginDir) ? readdirSync(pluginDir).find((f) => /^\d\d-procview$/.test(f)) : undefined;
    const problems = [
      ...(nri.enabled ? [] : [`NRI off in ${config} (${nri.because})`]),
      ...(launcher ? [] : [`no procview plugin in ${pluginDir}`]),
    ];
    return {
      label: "containerd",
      value: `${reported}; ${problems.length ? `${problems.join(", ")} (procview install containerd)` : `NRI on (${nri.because}), plugin ${pluginDir}/${launcher}`}`,
      ok: problems.length === 0,
    };
  } catch (err) {
    return { label: "containerd", value: `${reported}; ${(err as Error).message}`, ok: false };
  }
}

async function runtimes(containerdBinary: string, containerdConfig: string): Promise<Row[]> {
  const rows: Row[] = [];
  const podman = await installed("podman");
  if (podman) {
    const hook = hookIn(podmanHooksDirs());
    rows.push({ label: "podman", value: `${podman}; hook: ${hook.problem ?? `installed in ${hook.dir}`}`, ok: hook.problem === null });
  } else rows.push({ label: "podman", value: "not installed" });

  const crio = await installed("crio");
  if (crio) {
    // CRI-O reads the same hooks directories by default (crio.conf [crio.runtime] hooks_dir).
    const hook = hookIn(["/usr/share/containers/oci/hooks.d", "/etc/containers/oci/hooks.d"]);
    rows.push({ label: "CRI-O", value: `${crio}; hook: ${hook.problem ?? `installed in ${hook.dir}`}`, ok: hook.problem === null });
  } else rows.push({ label: "CRI-O", value: "not installed" });

  rows.push(await containerdRow(containerdBinary, containerdConfig));
  return rows;
}

/** The native keeper: built, and when the service runs, answering with a standby ready. */
function keeper(health: ServiceHealth): Row {
  const missing = [KEEPER_PROGRAM, EXEC_ADDON, INVALIDATE_ADDON].filter((p) => !existsSync(p));
  if (missing.length)
    return { label: "keeper", value: `${missing.join(", ")} missing (npm run build): procview serve cannot start`, ok: false };
  const s = health.status;
  if (!health.keeperAlive || !s) return { label: "keeper", value: `${KEEPER_PROGRAM} (not running)` };
  const standby = s.standbyPid ? `standby pid ${s.standbyPid}${s.standbyReady ? "" : " starting"}` : "no standby (--no-standby)";
  return {
    label: "keeper",
    value: `pid ${s.keeperPid}, ${(s.keeperRssBytes / 1024 / 1024).toFixed(1)} MiB; ${standby}; watchdog ${s.watchdogMs ? `${s.watchdogMs} ms` : "off"}`,
    ok: true,
  };
}

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description(
      "check FUSE, cgroups, the service's mount and the hook for each installed container runtime; exits 1 when something is wrong",
    )
    .option("--mountpoint <dir>", "the mountpoint procview serves", DEFAULT_MOUNTPOINT)
    .option("--cgroup-root <dir>", "where the cgroup hierarchies are", "/sys/fs/cgroup")
    .option("--runtime-dir <dir>", "where procview serve keeps its status file", DEFAULT_RUNTIME_DIR)
    .option("--containerd-config <file>", "containerd's config, checked for NRI", DEFAULT_CONTAINERD_CONFIG)
    .option("--containerd <path>", "the containerd binary (its version decides NRI's default: off on 1.7, on on 2.x)", "containerd")
    .action(async (flags: Flags) => {
      const health = await serviceHealth(resolve(flags.mountpoint), flags.runtimeDir);
      const rows: Row[] = [
        fuseDevice(),
        cgroups(flags.cgroupRoot),
        cgroupNamespace(),
        {
          label: "service",
          value:
            health.mount === "answering"
              ? `${health.mountPoint} answering (keeper pid ${health.status?.keeperPid ?? "?"}, serving pid ${health.status?.servingPid ?? "?"})`
              : `${health.mountPoint}: ${health.mount} (start it: procview serve, or procview install service)`,
          ok: health.mount === "answering",
        },
        keeper(health),
        {
          label: "mount helper",
          value: existsSync(NSMOUNT_HELPER)
            ? NSMOUNT_HELPER
            : `${NSMOUNT_HELPER} missing (npm run build): the hook falls back to nsenter, and views of running containers cannot come back after a full restart`,
          ok: existsSync(NSMOUNT_HELPER),
        },
        ...(await runtimes(flags.containerd, flags.containerdConfig)),
      ];
      process.stdout.write(`${renderTable(rows)}\n`);
      if (rows.some((row) => row.ok === false)) process.exitCode = 1;
    });
}
