// A FUSE server (procview or lxcfs) started in the foreground for a test, waited for until its
// meminfo reads, stopped with SIGTERM (SIGKILL after 5 s) and unmounted in teardown.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa, type ResultPromise } from "execa";
import { unmountQuietly, waitForMeminfo } from "./fuse-wait.js";
import { errorMessage } from "../core/errors.js";

export interface RunningServer {
  mountPoint: string;
  /** The server process. */
  pid: number;
  /** True while the server process is running. */
  alive(): boolean;
  /** What the server printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

export interface ServerSpec {
  /** For messages and the temp dir's name. */
  name: string;
  /** A fixed mountpoint (kept on stop); default: a fresh temp dir, removed on stop. */
  mountPoint?: string;
  /** The command, given the mountpoint and a private temp dir for its own files. */
  command(mountPoint: string, base: string): [string, string[]];
  /** More environment for it. */
  env?: Record<string, string>;
  timeoutMs: number;
}

export async function startFuseServer(spec: ServerSpec): Promise<RunningServer> {
  const base = await mkdtemp(path.join(tmpdir(), `procview-${spec.name}-`));
  const mountpoint = spec.mountPoint ?? path.join(base, "mnt");
  // A stale mount (a crashed run) answers ENOTCONN: the server itself deals with it.
  await mkdir(mountpoint, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "EEXIST" && err.code !== "ENOTCONN") throw err;
  });
  const [file, args] = spec.command(mountpoint, base);
  const child: ResultPromise = execa(file, args, { reject: false, stdin: "ignore", all: true, buffer: { all: true }, env: spec.env });
  const printed: string[] = [];
  child.all?.on("data", (chunk: Buffer) => printed.push(chunk.toString()));
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  const cleanUp = async () => {
    await unmountQuietly(mountpoint);
    await rm(base, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await waitForMeminfo(mountpoint, spec.timeoutMs, () => exited);
  } catch (err) {
    child.kill("SIGKILL");
    const out = await child.then((r) => String(r.all ?? "")).catch(() => "");
    await cleanUp();
    throw new Error(`${spec.name} did not come up on ${mountpoint}: ${errorMessage(err)}\n${out.split("\n").slice(-10).join("\n")}`, {
      cause: err,
    });
  }
  let stopped = false;
  return {
    mountPoint: mountpoint,
    pid: child.pid!,
    alive: () => !exited,
    output: () => printed.join(""),
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.catch(() => undefined);
      clearTimeout(timer);
      await cleanUp();
    },
  };
}
