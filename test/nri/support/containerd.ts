// A private containerd for the tests: its own config, root, state, sockets and
// NRI socket under one temp directory, the CRI plugin on runc with cgroupfs,
// and a teardown that leaves no process, shim or mount behind.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { ownMounts } from "../../../core/mountinfo.js";
import { errorMessage } from "../../../core/errors.js";

export const TEST_IMAGE = "docker.io/procview/busybox:test";

export interface ContainerdDirs {
  dir: string;
  config: string;
  address: string;
  nriSocket: string;
  pluginDir: string;
  log: string;
}

export async function makeContainerdDir(): Promise<ContainerdDirs> {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-containerd-"));
  return {
    dir,
    config: path.join(dir, "config.toml"),
    address: path.join(dir, "containerd.sock"),
    nriSocket: path.join(dir, "nri.sock"),
    pluginDir: path.join(dir, "nri-plugins"),
    log: path.join(dir, "containerd.log"),
  };
}

/** containerd 1.7 config (version 2); with `nri` false the NRI table is left out (for `procview install containerd` to add). */
export async function writeContainerdConfig(d: ContainerdDirs, opts: { nri: boolean }): Promise<void> {
  const q = JSON.stringify;
  for (const sub of ["cni-bin", "cni-conf", "nri-conf.d"]) await mkdir(path.join(d.dir, sub), { recursive: true });
  const text = `version = 2
root = ${q(path.join(d.dir, "root"))}
state = ${q(path.join(d.dir, "state"))}

[grpc]
  address = ${q(d.address)}

[ttrpc]
  address = ${q(d.address + ".ttrpc")}

[plugins]
  [plugins."io.containerd.grpc.v1.cri"]
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
${
  opts.nri
    ? `
[plugins."io.containerd.nri.v1.nri"]
  disable = false
  socket_path = ${q(d.nriSocket)}
  plugin_path = ${q(d.pluginDir)}
  plugin_config_path = ${q(path.join(d.dir, "nri-conf.d"))}
`
    : ""
}`;
  await writeFile(d.config, text);
}

export interface RunningContainerd {
  dirs: ContainerdDirs;
  pid: number;
  /** SIGTERM, wait (containers and their shims stay, as with a real restart). */
  stop(): Promise<void>;
  /** The log so far (for failure messages). */
  logTail(lines?: number): string;
}

async function waitForSocket(file: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (exited()) throw new Error("containerd exited");
    const r = await execa("ctr", ["--address", file, "version"], { reject: false, timeout: 3000 });
    if (r.exitCode === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`containerd did not answer on ${file} within ${timeoutMs} ms`);
}

export async function startContainerd(d: ContainerdDirs): Promise<RunningContainerd> {
  if (!existsSync("/usr/bin/containerd"))
    throw new Error("containerd is not installed (npm test installs containerd from trixie through test/support/system-deps.ts)");
  const child: ResultPromise = execa("containerd", ["--config", d.config, "--log-level", "info"], {
    reject: false,
    stdin: "ignore",
    stdout: { file: d.log, append: true },
    stderr: { file: d.log, append: true },
    cleanup: true,
  });
  let exited = false;
  void child.then(() => (exited = true));
  const logTail = (n = 30): string => {
    try {
      return readFileSync(d.log, "utf8").trim().split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  };
  try {
    await waitForSocket(d.address, 20_000, () => exited);
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

export async function importImage(d: ContainerdDirs, tarball: string): Promise<void> {
  const r = await execa("ctr", ["-n", "k8s.io", "--address", d.address, "images", "import", tarball], {
    reject: false,
    all: true,
    timeout: 60_000,
  });
  if (r.exitCode !== 0) throw new Error(`ctr images import failed (exit ${r.exitCode}): ${String(r.all).trim()}`);
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
  // Containers whose shim died: runc state lives under <state>/... and /run/containerd/runc/k8s.io.
  const mounts = ownMounts()
    .map((m) => m.mountPoint)
    .filter((m) => m === d.dir || m.startsWith(d.dir + "/"))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await execa("umount", ["-l", m], { reject: false, timeout: 5000 });
  await rm(d.dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}
