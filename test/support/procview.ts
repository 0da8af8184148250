// Starts the real `procview serve` (the built CLI) on a temporary mountpoint for a test file.
import { mkdtempSync, readFileSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { REPO_ROOT } from "./paths.js";

export const PROCVIEW_CLI = join(REPO_ROOT, "dist/cli/procview.js");

export interface RunningProcview {
  mountPoint: string;
  pid: number;
  /** Everything the service logged so far. */
  log(): string;
  alive(): boolean;
  stop(): Promise<void>;
}

export interface StartOptions {
  mountPoint?: string;
  extraArgs?: string[];
  timeoutMs?: number;
}

export async function startProcview(options: StartOptions = {}): Promise<RunningProcview> {
  const mountPoint = options.mountPoint ?? mkdtempSync(join(tmpdir(), "procview-mnt-"));
  let logged = "";
  const child: ResultPromise = execa(process.execPath, [PROCVIEW_CLI, "serve", "--foreground", "--mountpoint", mountPoint, ...(options.extraArgs ?? [])], {
    reject: false,
    buffer: false,
    stdin: "ignore",
  });
  child.stderr?.on("data", (chunk: Buffer) => (logged += chunk.toString()));
  let exited = false;
  void child.then(() => (exited = true));

  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    if (exited) throw new Error(`procview serve exited before mounting ${mountPoint}:\n${logged}`);
    try {
      if (readFileSync(join(mountPoint, "proc/meminfo"), "utf8").startsWith("MemTotal:")) break;
    } catch {
      // Not mounted yet.
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`procview did not serve ${mountPoint} in time:\n${logged}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    mountPoint,
    pid: child.pid!,
    log: () => logged,
    alive: () => !exited,
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        await Promise.race([child, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) child.kill("SIGKILL");
        await child;
      }
      await execa("umount", ["-l", mountPoint], { reject: false });
      if (!options.mountPoint) {
        try {
          rmdirSync(mountPoint);
        } catch {
          // Still busy (a lazy unmount in progress): the temp dir is harmless.
        }
      }
    },
  };
}
