// A node of its own for a test, in a mount namespace: the paths a Kubernetes node agent uses
// (procview's /var/lib/procview and /run/procview, the runtime's /var/run/nri) are private
// directories there, so a manifest that names those paths runs as written, beside the
// machine's own procview, other tests and their runtimes, and a containerd started inside
// (startContainerd's `enter`) binds them into containers as a real node would. Mounts made
// there (procview's FUSE mount included) stay there, and vanish with the last process.
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { parseMountinfo } from "../../core/mountinfo.js";

export interface NodeNamespace {
  /** A process holding the namespace (and this process's way in: /proc/<pid>/root). */
  pid: number;
  /** Prefix that runs a program in the namespace, in place (same pid). */
  enter: string[];
  /** A node path as this process reaches it. */
  nodePath(p: string): string;
  /** The private directory standing in for a node path. */
  backing(p: string): string;
  stop(): Promise<void>;
}

async function inside(pid: number, argv: string[]): Promise<void> {
  const r = await execa("nsenter", ["--target", String(pid), "--mount", "--", ...argv], { reject: false, all: true });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} in the node's mount namespace: ${String(r.all).trim()}`);
}

/** A mount namespace in which each of `paths` is a private directory, mounted shared (so that Bidirectional propagation works from it). */
export async function nodeNamespace(paths: readonly string[]): Promise<NodeNamespace> {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-node-"));
  const own = readlinkSync("/proc/self/ns/mnt");
  const holder: ResultPromise = execa("unshare", ["--mount", "--propagation", "private", "--", "sleep", "infinity"], {
    reject: false,
    stdin: "ignore",
    cleanup: true,
  });
  const pid = holder.pid!;
  const stop = async (): Promise<void> => {
    holder.kill("SIGKILL");
    await holder;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; ; i++) {
      const ns = (() => {
        try {
          return readlinkSync(`/proc/${pid}/ns/mnt`);
        } catch {
          return own;
        }
      })();
      if (ns !== own) break;
      if (i > 500) throw new Error("unshare --mount did not make a mount namespace");
      await new Promise((r) => setTimeout(r, 10));
    }
    const backing = new Map<string, string>();
    for (const p of paths) {
      const b = path.join(dir, p.replace(/^\/+/, "").replace(/\//g, "-"));
      await mkdir(b, { mode: 0o755 });
      // The mountpoint must exist on the machine's file system (an empty directory, as on any node).
      await mkdir(p, { recursive: true, mode: 0o755 });
      const real = realpathSync(p); // /var/run/nri is /run/nri
      // Whatever the machine has mounted there (its own procview, maybe dead) is detached here only.
      const mountedAt = (): boolean => parseMountinfo(readFileSync(`/proc/${pid}/mountinfo`, "utf8")).some((m) => m.mountPoint === real);
      for (let n = 0; mountedAt() && n < 10; n++) await inside(pid, ["umount", "-l", real]);
      await inside(pid, ["mount", "--bind", b, real]);
      await inside(pid, ["mount", "--make-shared", real]);
      backing.set(p, b);
      backing.set(real, b);
    }
    /** Under a private path: its backing directory (symlinks in the node resolve against this process's root otherwise). */
    const privateOf = (p: string): string | undefined => {
      for (const [at, b] of backing) if (p === at || p.startsWith(at + "/")) return path.join(b, p.slice(at.length));
      return undefined;
    };
    return {
      pid,
      enter: ["nsenter", "--target", String(pid), "--mount", "--"],
      nodePath: (p) => privateOf(path.resolve(p)) ?? path.join(`/proc/${pid}/root`, p),
      backing: (p) => {
        const b = backing.get(path.resolve(p));
        if (!b) throw new Error(`${p} is not a private path of this node`);
        return b;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
