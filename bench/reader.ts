// The C reader (bench/reader.c): built at bench time, run inside cgroups.
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { JOIN_THEN_EXEC, runInCgroup } from "../testbed/cgroups.js";
import { parseLatencyOutput, parseThroughputOutput, parseTurnLine, type ThroughputSample, type TurnResult } from "./stats.js";
import { PACKAGE_ROOT } from "../core/paths.js";

export const READER_SOURCE = join(PACKAGE_ROOT, "bench", "reader.c");
export const BUILD_DIR = join(PACKAGE_ROOT, "bench", ".build");

/** Compiles reader.c with gcc -O2 into bench/.build/reader (again only when the source is newer). */
export async function buildReader(): Promise<string> {
  const out = join(BUILD_DIR, "reader");
  await mkdir(BUILD_DIR, { recursive: true });
  const [src, bin] = await Promise.all([stat(READER_SOURCE), stat(out).catch(() => undefined)]);
  if (!bin || bin.mtimeMs < src.mtimeMs) {
    await execa("gcc", ["-O2", "-Wall", "-Wextra", "-o", out, READER_SOURCE], { timeout: 60_000 });
  }
  return out;
}

/** `reader latency FILE COUNT` inside the cgroups whose cgroup.procs files are given: one ns figure per read. */
export async function latencyIn(reader: string, procsFiles: string[], file: string, count: number): Promise<number[]> {
  // Generous: a read that takes more than 20 ms on average means something hangs.
  const stdout = await runInCgroup(procsFiles, [reader, "latency", file, String(count)], { timeoutMs: 10_000 + count * 20 });
  const samples = parseLatencyOutput(String(stdout));
  if (samples.length !== count) throw new Error(`reader latency ${file}: ${samples.length} figures for ${count} reads`);
  return samples;
}

/** `reader throughput FILE SECONDS` inside the given cgroups. */
export async function throughputIn(reader: string, procsFiles: string[], file: string, seconds: number): Promise<ThroughputSample> {
  const stdout = await runInCgroup(procsFiles, [reader, "throughput", file, String(seconds)], { timeoutMs: seconds * 1000 + 15_000 });
  return parseThroughputOutput(String(stdout));
}

// A turn reader joins its cgroups the way runInCgroup's commands do, but is not run to
// completion: it has to stay alive with its stdin open.

/**
 * A long-lived `reader turns` in one cgroup: read(path) makes it do one timed read and returns
 * the figure. Readers in many cgroups are made to take turns by awaiting one read at a time.
 */
export class TurnReader {
  private pending: Array<{ resolve: (r: TurnResult) => void; reject: (e: Error) => void }> = [];
  private buffered = "";
  private exited: string | undefined;

  private constructor(private readonly child: ResultPromise) {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf("\n")) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const waiter = this.pending.shift();
        if (!waiter) continue;
        try {
          waiter.resolve(parseTurnLine(line));
        } catch (err) {
          waiter.reject(err as Error);
        }
      }
    });
    void child.then((r) => {
      this.exited ??= `turn reader exited (${r.exitCode ?? r.signal ?? "?"})${r.stderr ? ": " + String(r.stderr).trim() : ""}`;
      for (const w of this.pending.splice(0)) w.reject(new Error(this.exited));
    });
  }

  static start(reader: string, procsFiles: string[]): TurnReader {
    const child = execa("/bin/sh", ["-c", JOIN_THEN_EXEC, "sh", ...procsFiles, "--", reader, "turns"], {
      reject: false,
      buffer: { stdout: false, stderr: true },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    return new TurnReader(child);
  }

  read(path: string, timeoutMs = 10_000): Promise<TurnResult> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise<TurnResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Its answer may still come and would then be taken for the next read's: retire the reader.
        this.exited = `turn read of ${path} took over ${timeoutMs} ms`;
        this.child.kill("SIGKILL");
        reject(new Error(this.exited));
      }, timeoutMs);
      this.pending.push({
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(path + "\n");
    });
  }

  /** Closes stdin (the reader exits at EOF); kills it if it has not gone within a second. */
  async stop(): Promise<void> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 1000);
    await this.child.catch(() => undefined);
    clearTimeout(timer);
  }
}
