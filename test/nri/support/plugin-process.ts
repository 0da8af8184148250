// `procview nri` as a separate process (dist/cli/procview.js nri), its stderr kept line by line.
import { execa, type ResultPromise } from "execa";
import { CLI_ENTRY } from "../../../core/paths.js";

// Compiled to dist/test/nri/support/plugin-process.js.

export interface PluginProcess {
  lines: string[];
  /** Resolves when a line matching `re` has appeared after index `from` (the count of lines already seen). */
  waitFor(re: RegExp, timeoutMs: number, from?: number): Promise<string>;
  stop(): Promise<void>;
}

export function startPluginProcess(args: string[]): PluginProcess {
  const child: ResultPromise = execa(process.execPath, [CLI_ENTRY, "nri", ...args], {
    reject: false,
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    buffer: false,
  });
  const lines: string[] = [];
  let partial = "";
  let exited = false;
  child.stderr!.on("data", (b: Buffer) => {
    const parts = (partial + b.toString()).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
  });
  void child.then(() => (exited = true));
  return {
    lines,
    async waitFor(re, timeoutMs, from = 0) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.slice(from).find((l) => re.test(l));
        if (hit) return hit;
        if (exited) throw new Error(`the plugin exited before logging ${re}:\n${lines.join("\n")}`);
        if (Date.now() > until) throw new Error(`no plugin line matching ${re} within ${timeoutMs} ms:\n${lines.join("\n")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child;
      clearTimeout(t);
    },
  };
}
