// The per-container tree (<mountpoint>/containers/<id>/), served from the kernel's page cache:
// - repeated reads through a bind over the container's own file (a private mount namespace, as
//   the hook and runc bind it), against the kernel's own file and LXCFS's file bound the same way;
// - the first read after the kernel dropped the file (a pause longer than --cache-ms before each);
// - 500 containers (cgroups with limits, registered by their cgroups path as the NRI plugin
//   does), each read by a monitor (every bound file once a second) and then in top's way (four
//   descriptors kept open, read again every second): procview's CPU, its invalidation thread's,
//   and how old the numbers read were.
import { readdir, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestCgroup } from "../../testbed/cgroups.js";
import { inPrivateMountNamespace, JOIN_THEN_EXEC, runInCgroup } from "../../testbed/cgroups.js";
import { execa } from "execa";
import { registerContainer } from "../../testbed/procview.js";
import type { Context } from "../context.js";
import { usable } from "../context.js";
import {
  attempt,
  measured,
  notMeasured,
  type BoundRow,
  type FirstReadRow,
  type LoadRun,
  type PageCacheResults,
  type SystemName,
} from "../results.js";
import { parseCpuTicks, parseLatencyOutput, percentile, summarizeNs, median } from "../stats.js";
import type { ReadTarget } from "../systems.js";
import { BEYOND_LXCFS, LATENCY_CGROUP } from "./latency.js";
import { VIEW_FILES } from "../../core/layout.js";

/** LXCFS's set: the files both systems serve, bound over the container's own. */
export const BOUND_FILES = VIEW_FILES.filter((file) => !BEYOND_LXCFS.has(file));
/** What the monitor reads once a second, and top's four; the uptime first (its age is measured). */
const MONITORED = [
  "proc/uptime",
  ...BOUND_FILES.filter((f) => f !== "proc/uptime"),
  "proc/pressure/cpu",
  "proc/pressure/memory",
  "proc/pressure/io",
  "proc/vmstat",
];
const TOP_FILES = ["proc/uptime", "proc/stat", "proc/meminfo", "proc/loadavg"];

/** `reader MODE FILE ARGS…` in `group`, in a mount namespace of its own with `source` bound over `file` (when given). */
async function inBind(ctx: Context, group: TestCgroup, source: string | null, file: string, args: string[]): Promise<string> {
  const target = `/${file}`;
  if (source === null) return runInCgroup(group.procsFiles(), [ctx.reader, args[0]!, target, ...args.slice(1)], { timeoutMs: 600_000 });
  const script = 'src=$1 dst=$2 mode=$3; shift 3; mount --bind "$src" "$dst" && exec "$0" "$mode" "$dst" "$@"';
  return runInCgroup(group.procsFiles(), inPrivateMountNamespace(script, ctx.reader, source, target, ...args), { timeoutMs: 600_000 });
}

/** What a system binds over `file`: procview's container copy, LXCFS's file, nothing (the kernel's). */
function sourceOf(target: ReadTarget, id: string, file: string): string | null {
  if (target.name === "kernel") return null;
  return target.name === "procview" ? `${target.root}/containers/${id}/${file}` : `${target.root}/${file}`;
}

async function boundLatency(ctx: Context, id: string, group: TestCgroup): Promise<BoundRow[]> {
  const rows: BoundRow[] = [];
  const passes = ctx.settings.latencyCount >= 1000 ? 4 : 2;
  const chunk = Math.max(1, Math.ceil(ctx.settings.latencyCount / passes));
  const order: SystemName[] = ["procview", "lxcfs", "kernel"];
  for (const file of BOUND_FILES) {
    const samples: Record<SystemName, number[]> = { procview: [], lxcfs: [], kernel: [] };
    const failed: Partial<Record<SystemName, string>> = {};
    for (let p = 0; p < passes; p++) {
      for (const name of p % 2 === 0 ? order : [...order].reverse()) {
        if (failed[name]) continue;
        const target = usable(ctx, name);
        if (!target.ok) {
          failed[name] = target.why;
          continue;
        }
        try {
          const out = await inBind(ctx, group, sourceOf(target.value, id, file), file, ["latency", String(chunk)]);
          samples[name].push(...parseLatencyOutput(out));
        } catch (err) {
          failed[name] = (err as Error).message.split("\n")[0]!;
        }
      }
    }
    const outcome = (n: SystemName) => (failed[n] !== undefined ? notMeasured(failed[n]) : measured(summarizeNs(samples[n])));
    rows.push({ file, procview: outcome("procview"), lxcfs: outcome("lxcfs"), kernel: outcome("kernel") });
    ctx.log(
      `bound ${file}: ${order.map((n) => `${n} ${failed[n] === undefined ? summarizeNs(samples[n]).medianUs.toFixed(1) + " µs" : "n/m"}`).join(", ")}`,
    );
  }
  return rows;
}

async function firstReads(ctx: Context, id: string, group: TestCgroup, gapMs: number): Promise<FirstReadRow[]> {
  const count = ctx.settings.mode === "full" ? 100 : 30;
  const rows: FirstReadRow[] = [];
  for (const file of ["proc/meminfo", "proc/loadavg"]) {
    const row: FirstReadRow = {
      file,
      gapMs,
      procview: notMeasured("not run"),
      lxcfs: notMeasured("not run"),
      kernel: notMeasured("not run"),
    };
    for (const name of ["procview", "lxcfs", "kernel"] as const) {
      const target = usable(ctx, name);
      row[name] = !target.ok
        ? target
        : await attempt(async () =>
            summarizeNs(
              parseLatencyOutput(
                await inBind(ctx, group, sourceOf(target.value, id, file), file, ["spaced", String(count), String(gapMs)]),
              ),
            ),
          );
    }
    ctx.log(
      `first read ${file} after ${gapMs} ms: ${(["procview", "lxcfs", "kernel"] as const).map((n) => `${n} ${row[n].ok ? row[n].value.medianUs.toFixed(1) + " µs" : "n/m"}`).join(", ")}`,
    );
    rows.push(row);
  }
  return rows;
}

const hz = 100;

async function cpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) ticks += parseCpuTicks(await readFile(`/proc/${pid}/stat`, "utf8").catch(() => ""));
  return (ticks * 1000) / hz;
}

/** CPU of the threads of `pid` named `comm`. */
async function threadCpuMs(pid: number | undefined, comm: string): Promise<number> {
  if (pid === undefined) return 0;
  let ticks = 0;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const name = (await readFile(`/proc/${pid}/task/${tid}/comm`, "utf8").catch(() => "")).trim();
    if (name === comm) ticks += parseCpuTicks(await readFile(`/proc/${pid}/task/${tid}/stat`, "utf8").catch(() => ""));
  }
  return (ticks * 1000) / hz;
}

/** Readers in every group, one per container, for `seconds`; CPU measured over the middle of the run. */
async function loadRun(
  ctx: Context,
  groups: TestCgroup[],
  pattern: "monitor" | "top",
  files: (group: number) => string[],
  seconds: number,
  measuredSeconds: number,
  watched: ReadTarget,
): Promise<{ reads: number; errors: number; ages: number[]; cpu: number; invalidation: number; tree: number }> {
  const printed = watched.output?.().length ?? 0;
  const readers = Promise.all(
    groups.map(async (g, i) => {
      const command = [ctx.reader, pattern, String(seconds), ...files(i)];
      const result = await execa("/bin/sh", ["-c", JOIN_THEN_EXEC, "sh", ...g.procsFiles(), "--", ...command], {
        reject: false,
        timeout: (seconds + 120) * 1000,
      });
      if (result.exitCode !== 0) throw new Error(`${command.join(" ")} in ${g.path} failed (${result.exitCode}): ${result.stderr}`);
      // The reader names each failed read (its first three): the file and the errno. LXCFS's
      // readers fail on the files it does not serve (vmstat): only procview's are told.
      if (watched.name === "procview")
        for (const line of result.stderr.split("\n").filter((l) => l.startsWith("reader: "))) ctx.log(`${pattern} in ${g.path}: ${line}`);
      return result.stdout;
    }),
  );
  const failed = readers.then(
    () => undefined,
    (err: unknown) => err,
  );
  // Every reader has started and read a few rounds by then.
  await Promise.race([sleep(Math.max(2000, ((seconds - measuredSeconds) * 1000) / 2)), failed]);
  const serving = () => watched.processes?.().find((p) => p.role === "serving")?.pid;
  const start = {
    cpu: await cpuMs(watched.pids()),
    invalidation: await threadCpuMs(serving(), "pv-invalidate"),
    tree: await threadCpuMs(serving(), "pv-containers"),
  };
  await Promise.race([sleep(measuredSeconds * 1000), failed]);
  const end = {
    cpu: await cpuMs(watched.pids()),
    invalidation: await threadCpuMs(serving(), "pv-invalidate"),
    tree: await threadCpuMs(serving(), "pv-containers"),
  };
  const outputs = await readers;
  let reads = 0;
  let errors = 0;
  const ages: number[] = [];
  for (const out of outputs) {
    const [r, e, ...a] = out.trim().split(/\s+/).map(Number);
    reads += r!;
    errors += e!;
    ages.push(...a.filter((x) => Number.isFinite(x)));
  }
  // What the service said meanwhile: the other side of a failed read.
  if (errors > 0)
    for (const line of (watched.output?.().slice(printed) ?? "").split("\n").slice(0, 20)) if (line) ctx.log(`${watched.name}: ${line}`);
  return {
    reads,
    errors,
    ages,
    cpu: end.cpu - start.cpu,
    invalidation: end.invalidation - start.invalidation,
    tree: end.tree - start.tree,
  };
}

async function loads(ctx: Context, containers: number): Promise<LoadRun[]> {
  const procview = usable(ctx, "procview");
  if (!procview.ok) throw new Error(procview.why);
  const target = procview.value;
  const mountPoint = target.root;
  const groups: TestCgroup[] = [];
  try {
    for (let i = 0; i < containers; i++) {
      const g = ctx.cgroups.create(`pc${i}`, { memoryLimitBytes: (64 + i) * 1024 * 1024 });
      groups.push(g);
      registerContainer(mountPoint, `bench-${i}`, { cgroupsPath: g.path });
    }
    const seconds = ctx.settings.mode === "full" ? 30 : 12;
    const measuredSeconds = ctx.settings.mode === "full" ? 20 : 6;
    const runs: LoadRun[] = [];
    for (const pattern of ["monitor", "top"] as const) {
      const list = pattern === "monitor" ? MONITORED : TOP_FILES;
      const before = await target.keeper?.();
      const run = await loadRun(
        ctx,
        groups,
        pattern,
        (i) => list.map((f) => `${mountPoint}/containers/bench-${i}/${f}`),
        seconds,
        measuredSeconds,
        target,
      );
      const after = await target.keeper?.();
      const sorted = [...run.ages].sort((a, b) => a - b);
      const result: LoadRun = {
        pattern,
        containers,
        seconds: measuredSeconds,
        reads: run.reads,
        errors: run.errors,
        procviewCpuMs: run.cpu,
        invalidationCpuMs: run.invalidation,
        treeCpuMs: run.tree,
        fills: (after?.fills ?? 0) - (before?.fills ?? 0),
        invalidations: (after?.invalidations ?? 0) - (before?.invalidations ?? 0),
        ageMedianMs: median(sorted),
        ageP99Ms: percentile(sorted, 99),
        ageMaxMs: sorted[sorted.length - 1] ?? NaN,
      };
      // LXCFS under the same readers, on its own files (it keeps no cache: every read renders).
      const lxcfs = usable(ctx, "lxcfs");
      if (lxcfs.ok && pattern === "monitor") {
        const files = list.filter((f) => !f.startsWith("proc/pressure")).map((f) => `${lxcfs.value.root}/${f}`);
        const same = await attempt(() => loadRun(ctx, groups, pattern, () => files, seconds, measuredSeconds, lxcfs.value));
        if (same.ok) result.lxcfsCpuMs = same.value.cpu;
      }
      ctx.log(
        `${containers} containers, ${pattern}: procview ${result.procviewCpuMs} ms CPU in ${measuredSeconds} s (invalidation thread ${result.invalidationCpuMs} ms), ${result.fills} renderings, ${result.invalidations} invalidations; numbers ${result.ageMedianMs} ms old (median), ${result.ageMaxMs} ms at most`,
      );
      runs.push(result);
    }
    return runs;
  } finally {
    for (const f of await ctx.cgroups.remove(groups)) ctx.log(`cleanup: ${f}`);
  }
}

export async function pageCacheScenario(ctx: Context, cacheMs: number): Promise<PageCacheResults> {
  const group = ctx.cgroups.create("page-cache", LATENCY_CGROUP);
  const procview = usable(ctx, "procview");
  const id = "bench-latency";
  if (procview.ok) registerContainer(procview.value.root, id, { cgroupsPath: group.path });
  try {
    const bound = await attempt(() => boundLatency(ctx, id, group));
    const firstRead = await attempt(() => firstReads(ctx, id, group, Math.max(2 * cacheMs, 150)));
    const load = await attempt(() => loads(ctx, 500));
    return { bound, firstRead, load };
  } finally {
    await ctx.cgroups.remove([group]);
  }
}
