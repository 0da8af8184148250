// `podman run` the way it works on the test bed (Debian, hybrid cgroup v1, root without systemd):
//  - --runtime runc: crun is not installed there (and refuses hybrid cgroup v1);
//  - --cgroup-manager=cgroupfs: no systemd;
//  - --ulimit nofile/nproc: podman asks for nofile=1048576, more than our hard
//    limit, and we lack CAP_SYS_RESOURCE, so runc fails with "error setting
//    rlimit type 7: operation not permitted" without them;
//  - --network none: no CNI/netavark setup needed and nothing to clean up;
//  - --rootfs is a boolean flag in podman 4.3: the rootfs path is the first
//    positional argument, so every option must come before it.
import { execa } from "execa";

export interface PodmanRunOptions {
  rootfs: string;
  /** Extra hooks directory; omit to run with podman's configured hooks dirs only. */
  hooksDir?: string;
  /** Extra `podman run` options, e.g. ['-m', '256m']. */
  args?: string[];
  annotations?: Record<string, string>;
  cmd: string[];
  timeoutMs?: number;
}

export interface PodmanResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export const PODMAN_BASE_ARGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs"];
export const PODMAN_RUN_ARGS = ["--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none"];

export async function podmanRun(o: PodmanRunOptions): Promise<PodmanResult> {
  const global = [...PODMAN_BASE_ARGS, ...(o.hooksDir ? ["--hooks-dir", o.hooksDir] : [])];
  const annotations = Object.entries(o.annotations ?? {}).flatMap(([k, v]) => ["--annotation", `${k}=${v}`]);
  const argv = [...global, "run", ...PODMAN_RUN_ARGS, ...annotations, ...(o.args ?? []), "--rootfs", o.rootfs, ...o.cmd];
  const r = await execa("podman", argv, { reject: false, timeout: o.timeoutMs ?? 60_000, stdin: "ignore" });
  if (r.failed && r.exitCode === undefined) {
    throw new Error(`podman could not be run (${r.shortMessage}); podman ${argv.join(" ")}`);
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

/** Fail loudly (never skip) when podman cannot start a plain container here. */
export async function assertPodmanWorks(rootfs: string): Promise<void> {
  const r = await podmanRun({ rootfs, cmd: ["/bin/true"] });
  if (r.exitCode !== 0) {
    throw new Error(`podman cannot run containers on this machine (exit ${r.exitCode}): ${r.stderr.trim()}`);
  }
}

/** The shell script run in the container, printing what the assertions look at. */
export const PROBE_SCRIPT = [
  'echo "meminfo: $(grep MemTotal /proc/meminfo)"',
  'echo "processors: $(grep -c ^processor /proc/cpuinfo)"',
  'echo "online: $(cat /sys/devices/system/cpu/online)"',
  'echo "uptime: $(cut -d" " -f1 /proc/uptime)"',
].join("; ");

export interface ContainerView {
  memTotalKb: number;
  processors: number;
  online: string;
  uptimeSeconds: number;
}

export function parseView(stdout: string): ContainerView {
  const field = (name: string): string => {
    const m = new RegExp(`^${name}: (.*)$`, "m").exec(stdout);
    if (!m) throw new Error(`container output has no "${name}:" line:\n${stdout}`);
    return (m[1] ?? "").trim();
  };
  const mem = /^MemTotal:\s+(\d+) kB$/.exec(field("meminfo"));
  if (!mem) throw new Error(`unexpected MemTotal line: ${field("meminfo")}`);
  return {
    memTotalKb: Number(mem[1]),
    processors: Number(field("processors")),
    online: field("online"),
    uptimeSeconds: Number(field("uptime")),
  };
}

/** `podman run -d`: starts a container that keeps running (removed when it exits); its name. */
export async function podmanStart(o: Omit<PodmanRunOptions, "timeoutMs"> & { name: string }): Promise<string> {
  const global = [...PODMAN_BASE_ARGS, ...(o.hooksDir ? ["--hooks-dir", o.hooksDir] : [])];
  const annotations = Object.entries(o.annotations ?? {}).flatMap(([k, v]) => ["--annotation", `${k}=${v}`]);
  const argv = [
    ...global,
    "run",
    "-d",
    "--name",
    o.name,
    ...PODMAN_RUN_ARGS,
    ...annotations,
    ...(o.args ?? []),
    "--rootfs",
    o.rootfs,
    ...o.cmd,
  ];
  const r = await execa("podman", argv, { reject: false, timeout: 60_000, stdin: "ignore" });
  if (r.exitCode !== 0) throw new Error(`podman run -d failed (exit ${r.exitCode}): ${String(r.stderr).trim()}`);
  return o.name;
}

/** `podman exec`: the command runs in the running container's namespaces and cgroups. */
export async function podmanExec(name: string, cmd: string[]): Promise<PodmanResult> {
  const r = await execa("podman", [...PODMAN_BASE_ARGS, "exec", name, ...cmd], { reject: false, timeout: 30_000, stdin: "ignore" });
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1 };
}

/** The host pid of the container's init. */
export async function podmanPid(name: string): Promise<number> {
  const r = await execa("podman", [...PODMAN_BASE_ARGS, "inspect", "--format", "{{.State.Pid}}", name], { timeout: 30_000 });
  return Number(String(r.stdout).trim());
}

export async function podmanRemove(name: string): Promise<void> {
  await execa("podman", [...PODMAN_BASE_ARGS, "rm", "-f", "-t", "0", name], { reject: false, timeout: 60_000, stdin: "ignore" });
}
