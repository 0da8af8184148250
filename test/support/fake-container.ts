// A stand-in for a container at prestart time, without a runtime: a process
// in its own (private) mount namespace, a bundle with config.json and a rootfs
// whose proc/ and sys/ hold regular files where procfs/sysfs files would be.
// Lets the hook's unit tests bind for real and look at the result.
import { mkdir, mkdtemp, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { VIEW_FILES } from "../../core/layout.js";

export const ORIGINAL = "original content\n";

export interface FakeContainerOptions {
  /** config.json root.path; default "rootfs" (relative to the bundle). */
  rootPath?: "relative" | "absolute";
  mounts?: Array<{ destination: string; type?: string; source?: string }>;
  maskedPaths?: string[];
  annotations?: Record<string, string>;
  /** Target files not to create in the rootfs. */
  omit?: string[];
  /** Target files to create as symlinks to the given host path instead. */
  symlinks?: Record<string, string>;
  /** Leave linux.namespaces without a mount entry. */
  hostMountNs?: boolean;
}

export interface FakeContainer {
  bundle: string;
  rootfs: string;
  pid: number;
  state(overrides?: Record<string, unknown>): string;
  /** Read a container path (e.g. /proc/meminfo) from inside the container's mount namespace. */
  read(containerPath: string): Promise<string>;
  /** Mount points under the rootfs, as the container's mount namespace sees them. */
  mountsUnderRootfs(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function fakeContainer(o: FakeContainerOptions = {}): Promise<FakeContainer> {
  const bundle = await mkdtemp(path.join(tmpdir(), "procview-bundle-"));
  const rootfs = path.join(bundle, "rootfs");
  for (const file of VIEW_FILES) {
    if (o.omit?.includes(file)) continue;
    const p = path.join(rootfs, file);
    await mkdir(path.dirname(p), { recursive: true });
    const link = o.symlinks?.[file];
    if (link) await symlink(link, p);
    else await writeFile(p, ORIGINAL);
  }
  await mkdir(path.join(rootfs, "proc"), { recursive: true });
  const config = {
    ociVersion: "1.0.2",
    root: { path: o.rootPath === "absolute" ? rootfs : "rootfs" },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      { destination: "/sys", type: "sysfs", source: "sysfs" },
      ...(o.mounts ?? []),
    ],
    annotations: o.annotations ?? {},
    linux: { namespaces: o.hostMountNs ? [{ type: "pid" }] : [{ type: "pid" }, { type: "mount" }], maskedPaths: o.maskedPaths ?? [] },
  };
  await writeFile(path.join(bundle, "config.json"), JSON.stringify(config));

  const ours = await readlink("/proc/self/ns/mnt");
  const child: ResultPromise = execa("unshare", ["--mount", "--propagation", "private", "sleep", "600"], {
    reject: false,
    stdin: "ignore",
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("could not start unshare");
  // unshare execs sleep in place, so the pid is the namespace's; wait until the unshare has happened.
  for (let i = 0; ; i++) {
    const theirs = await readlink(`/proc/${pid}/ns/mnt`).catch(() => ours);
    if (theirs !== ours) break;
    if (i > 200) throw new Error("fake container never left our mount namespace");
    await new Promise((r) => setTimeout(r, 10));
  }
  const inNs = (argv: string[]) => execa("nsenter", ["--target", String(pid), "--mount", "--", ...argv], { timeout: 5000 });
  return {
    bundle,
    rootfs,
    pid,
    state: (overrides = {}) =>
      JSON.stringify({
        ociVersion: "1.0.2",
        id: "fake-" + path.basename(bundle),
        status: "creating",
        pid,
        bundle,
        annotations: o.annotations ?? {},
        ...overrides,
      }),
    read: async (p) => String((await inNs(["cat", path.join(rootfs, p)])).stdout),
    mountsUnderRootfs: async () =>
      String((await inNs(["findmnt", "-rn", "-o", "TARGET"])).stdout)
        .split("\n")
        .filter((t) => t.startsWith(rootfs + "/")),
    stop: async () => {
      child.kill("SIGKILL");
      await child;
      await rm(bundle, { recursive: true, force: true });
    },
  };
}

export interface FakeSource {
  dir: string;
  stop(): Promise<void>;
}

/** A plain directory with the LXCFS layout. `meminfo: 'fifo'` makes reads of proc/meminfo block forever, like a hung FUSE server. */
export async function fakeSource(o: { meminfo?: "file" | "fifo" | "absent" } = {}): Promise<FakeSource> {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-source-"));
  for (const file of VIEW_FILES) {
    const p = path.join(dir, file);
    await mkdir(path.dirname(p), { recursive: true });
    if (file === "proc/meminfo") {
      if (o.meminfo === "absent") continue;
      if (o.meminfo === "fifo") {
        await execa("mkfifo", [p]);
        continue;
      }
      await writeFile(p, "MemTotal:         123456 kB\n");
    } else {
      await writeFile(p, `served ${file}\n`);
    }
  }
  return { dir, stop: () => rm(dir, { recursive: true, force: true }) };
}
