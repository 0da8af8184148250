// A private containerd for the tests, of either line (1.7: the system's; 2: sid's, unpacked by
// system-deps.ts): its own config, root, state, sockets, NRI socket and plugin directory under
// one temporary directory, the CRI plugin on runc with cgroupfs, start / stop / restart, image
// import, and a teardown that leaves no process, shim or mount behind.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { ownMounts } from "../../core/mountinfo.js";
import { errorMessage } from "../../core/errors.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { containerdBuild, type ContainerdBuild, type ContainerdLine } from "./containerd-builds.js";
import { writeOciImage } from "../../scripts/oci-image.js";

/** The busybox image every test pod and container runs (also the sandbox image: no pause image needed). */
export const TEST_IMAGE = "docker.io/procview/busybox:test";

export interface ContainerdDirs {
  build: ContainerdBuild;
  dir: string;
  config: string;
  address: string;
  nriSocket: string;
  pluginDir: string;
  pluginConfigDir: string;
  log: string;
}

export async function makeContainerdDir(line: ContainerdLine): Promise<ContainerdDirs> {
  const build = containerdBuild(line);
  const dir = await mkdtemp(path.join(tmpdir(), `procview-containerd-${line}-`));
  for (const sub of ["cni-bin", "cni-conf", "nri-conf.d"]) await mkdir(path.join(dir, sub), { recursive: true });
  return {
    build,
    dir,
    config: path.join(dir, "config.toml"),
    address: path.join(dir, "containerd.sock"),
    nriSocket: path.join(dir, "nri.sock"),
    pluginDir: path.join(dir, "nri-plugins"),
    pluginConfigDir: path.join(dir, "nri-conf.d"),
    log: path.join(dir, "containerd.log"),
  };
}

/**
 * How the config says NRI: "on" (disable = false, private paths), "paths" (private paths, no
 * disable key: containerd 2's default is on, 1.7's off) or "absent" (no NRI table at all;
 * only for 1.7, whose default is off: on 2 it would use the machine's /var/run/nri and /opt/nri).
 */
export type NriSetting = "on" | "paths" | "absent";

function nriTable(d: ContainerdDirs, nri: NriSetting, q: (s: string) => string, header: string): string {
  if (nri === "absent") return "";
  return `
${header}
${nri === "on" ? "  disable = false\n" : ""}  socket_path = ${q(d.nriSocket)}
  plugin_path = ${q(d.pluginDir)}
  plugin_config_path = ${q(d.pluginConfigDir)}
`;
}

/** What both forms begin with: the version, the private root, state and sockets. */
function configHead(d: ContainerdDirs, version: number, q: (s: string) => string): string {
  return `version = ${version}
root = ${q(path.join(d.dir, "root"))}
state = ${q(path.join(d.dir, "state"))}

[grpc]
  address = ${q(d.address)}

[ttrpc]
  address = ${q(d.address + ".ttrpc")}

[plugins]
`;
}

/** containerd 1.7's form (version 2). */
function configV2(d: ContainerdDirs, nri: NriSetting): string {
  const q = JSON.stringify;
  return `${configHead(d, 2, q)}  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = ${q(TEST_IMAGE)}
    enable_selinux = false
    # Sandboxes ask for oom_score_adj -998; without CAP_SYS_RESOURCE (nested VMs, CI) runc cannot lower it.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = "/usr/sbin/runc"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = ${q(path.join(d.dir, "cni-bin"))}
      conf_dir = ${q(path.join(d.dir, "cni-conf"))}
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(path.join(d.dir, "opt"))}
${nriTable(d, nri, q, '[plugins."io.containerd.nri.v1.nri"]')}`;
}

/** containerd 2's form (version 3): the CRI plugin split into images and runtime, single quotes as `containerd config default` writes. */
function configV3(d: ContainerdDirs, nri: NriSetting): string {
  const q = (s: string): string => `'${s}'`;
  return `${configHead(d, 3, q)}  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${q(TEST_IMAGE)}
  [plugins.'io.containerd.cri.v1.runtime']
    enable_selinux = false
    # Sandboxes ask for oom_score_adj -998; without CAP_SYS_RESOURCE (nested VMs, CI) runc cannot lower it.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          SystemdCgroup = false
          BinaryName = '/usr/sbin/runc'
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = [${q(path.join(d.dir, "cni-bin"))}]
      conf_dir = ${q(path.join(d.dir, "cni-conf"))}
  [plugins.'io.containerd.internal.v1.opt']
    path = ${q(path.join(d.dir, "opt"))}
${nriTable(d, nri, q, "[plugins.'io.containerd.nri.v1.nri']")}`;
}

/** The test config for this containerd's line. */
export function containerdConfig(d: ContainerdDirs, nri: NriSetting): string {
  if (d.build.line === "2" && nri === "absent")
    throw new Error("containerd 2 without an NRI table would use the machine's NRI socket and plugin directory");
  return configWithoutNri(d, nri);
}

/** The test config with NRI as given; with "absent", the caller adds NRI's private paths in a form of its own. */
export function configWithoutNri(d: ContainerdDirs, nri: NriSetting = "absent"): string {
  return d.build.line === "1.7" ? configV2(d, nri) : configV3(d, nri);
}

/** `containerd config default` of this build. */
export async function defaultConfig(d: ContainerdDirs): Promise<string> {
  return String((await execa(d.build.containerd, ["config", "default"])).stdout) + "\n";
}

export async function writeContainerdConfig(d: ContainerdDirs, nri: NriSetting): Promise<string> {
  const text = containerdConfig(d, nri);
  await writeFile(d.config, text);
  return text;
}

/**
 * A stock config (`containerd config default`) with every machine path it names moved into the
 * private directory, so that it can run beside the machine's containerd. Nothing else changes:
 * keys, quoting, comments and layout stay as containerd wrote them.
 */
export function privatize(text: string, d: ContainerdDirs): string {
  const moves: [string, string][] = [
    ["/run/containerd/containerd.sock", d.address],
    ["/var/run/nri/nri.sock", d.nriSocket],
    ["/opt/nri/plugins", d.pluginDir],
    ["/etc/nri/conf.d", d.pluginConfigDir],
    ["/var/lib/containerd", path.join(d.dir, "root")],
    ["/run/containerd", path.join(d.dir, "state")],
    ["/opt/containerd", path.join(d.dir, "opt")],
    ["/etc/cni/net.d", path.join(d.dir, "cni-conf")],
    ["/opt/cni/bin", path.join(d.dir, "cni-bin")],
    ["/usr/lib/cni", path.join(d.dir, "cni-bin")],
    ["/etc/cdi", path.join(d.dir, "cdi")],
    ["/var/run/cdi", path.join(d.dir, "cdi-run")],
  ];
  let out = text;
  for (const [from, to] of moves) out = out.replace(new RegExp(`(["'])${from.replace(/[/.]/g, "\\$&")}(?=[/"'])`, "g"), `$1${to}`);
  return out;
}

export interface RunningContainerd {
  dirs: ContainerdDirs;
  pid: number;
  /** SIGTERM, wait (containers and their shims stay, as with a real restart). */
  stop(): Promise<void>;
  /** The log so far (for failure messages). */
  logTail(lines?: number): string;
}

async function waitForSocket(d: ContainerdDirs, timeoutMs: number, exited: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (exited()) throw new Error(`containerd ${d.build.line} exited`);
    const r = await execa(d.build.ctr, ["--address", d.address, "version"], { reject: false, timeout: 3000 });
    if (r.exitCode === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`containerd did not answer on ${d.address} within ${timeoutMs} ms`);
}

const logTailOf =
  (d: ContainerdDirs) =>
  (n = 30): string => {
    try {
      return readFileSync(d.log, "utf8").trim().split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  };

/**
 * Starts containerd; `enter` runs it through a program that execs it in place (e.g. nsenter
 * into a mount namespace of a private node, see node-namespace.ts), so the pid stays containerd's.
 */
export async function startContainerd(d: ContainerdDirs, enter: readonly string[] = []): Promise<RunningContainerd> {
  if (!existsSync(d.build.containerd)) throw new Error(`${d.build.containerd} is missing (npm test sets it up through system-deps.ts)`);
  const argv = [...enter, d.build.containerd, "--config", d.config, "--log-level", "info"];
  const child: ResultPromise = execa(argv[0]!, argv.slice(1), {
    reject: false,
    stdin: "ignore",
    stdout: { file: d.log, append: true },
    stderr: { file: d.log, append: true },
    // The shim is found on PATH: this build's own first.
    env: { PATH: `${d.build.binDir}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}` },
    cleanup: true,
  });
  let exited = false;
  void child.then(() => (exited = true));
  const logTail = logTailOf(d);
  try {
    await waitForSocket(d, 30_000, () => exited);
  } catch (err) {
    child.kill("SIGKILL");
    await child;
    throw new Error(`${errorMessage(err)}\n${logTail()}`, { cause: err });
  }
  return {
    dirs: d,
    pid: child.pid!,
    logTail,
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child;
      clearTimeout(t);
    },
  };
}

/** Stop, then start again with the same directories (containers and shims stay, as with `systemctl restart containerd`). */
export async function restartContainerd(running: RunningContainerd): Promise<RunningContainerd> {
  await running.stop();
  return startContainerd(running.dirs);
}

export async function importImage(d: ContainerdDirs, tarball: string): Promise<void> {
  const r = await execa(d.build.ctr, ["-n", "k8s.io", "--address", d.address, "images", "import", tarball], {
    reject: false,
    all: true,
    timeout: 60_000,
  });
  if (r.exitCode !== 0) throw new Error(`ctr images import failed (exit ${r.exitCode}): ${String(r.all).trim()}`);
}

/** Build the busybox test image and import it into the k8s.io namespace CRI uses. */
export async function importTestImage(d: ContainerdDirs): Promise<void> {
  const tarball = path.join(d.dir, "image.tar");
  await writeOciImage({ rootfs: await busyboxRootfs(), name: TEST_IMAGE, cmd: ["/bin/sleep", "86400"] }, tarball);
  await importImage(d, tarball);
}

/** Shims of this containerd (they outlive containerd by design): `-address <our socket>` on their command line. */
function ourShims(d: ContainerdDirs): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("containerd-shim-runc-v2") && argv.includes(d.address)) pids.push(Number(p));
    } catch {
      // gone
    }
  }
  return pids;
}

/** After containerd is stopped: kill its shims (and with them their containers), unmount what is left under the dir, remove it. */
export async function destroyContainerdDir(d: ContainerdDirs): Promise<void> {
  for (const pid of ourShims(d)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const mounts = ownMounts()
    .map((m) => m.mountPoint)
    .filter((m) => m === d.dir || m.startsWith(d.dir + "/"))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await execa("umount", ["-l", m], { reject: false, timeout: 5000 });
  await rm(d.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}
