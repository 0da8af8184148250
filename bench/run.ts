// `npm run bench`: procview and Debian's lxcfs mounted side by side, read from processes in
// real cgroups with limits; one markdown table of figures against procview's targets, printed
// and written to bench/results/latest.md. A piece that is missing or fails makes its rows
// "not measured: <why>"; the run goes on.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { execa } from "execa";
import { CgroupPool, FULL, QUICK, type Context, type Settings } from "./context.js";
import { buildReader } from "./reader.js";
import { attempt, measured, notMeasured, oneLine, type BenchResults, type Outcome, type SystemName } from "./results.js";
import { hookScenario } from "./scenarios/hook.js";
import { latencyScenario } from "./scenarios/latency.js";
import { idleScenario, memoryDetailScenario, processMemoryScenario, rssScenario } from "./scenarios/memory-idle.js";
import { scaleScenario } from "./scenarios/scale.js";
import { throughputScenario } from "./scenarios/throughput.js";
import { takeoverScenario } from "./scenarios/takeover.js";
import { pageCacheScenario } from "./scenarios/page-cache.js";
import { kernel, startLxcfsTarget, startProcviewTarget, type ReadTarget } from "./systems.js";
import { renderReport } from "./table.js";
import { PACKAGE_ROOT } from "../core/paths.js";

const DEFAULT_OUT = join(PACKAGE_ROOT, "bench", "results", "latest.md");

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive whole number");
  return n;
}

async function lxcfsVersion(): Promise<string> {
  const r = await execa("lxcfs", ["--version"], { reject: false, timeout: 5000 });
  return (String(r.stdout).trim() || String(r.stderr).trim() || "unknown").replace(/^"|"$/g, "");
}

/** The --cache-ms procview runs with (its default, unless the experiment's options say). */
function cacheMsOf(args: string[]): number {
  const at = args.indexOf("--cache-ms");
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) ? value : 100;
}

const loadavg = () =>
  readFile("/proc/loadavg", "utf8").then(
    (s) => s.split(" ").slice(0, 3).join(" "),
    () => "unknown",
  );

async function bench(settings: Settings, out: string, skip: Set<string>, procviewArgs: string[]): Promise<void> {
  const began = Date.now();
  const cpuCount = cpus().length;
  const results: BenchResults = {
    meta: {
      cpus: cpuCount,
      kernel: String((await execa("uname", ["-r"])).stdout).trim(),
      date: new Date().toISOString(),
      mode: settings.mode,
      node: process.version,
      lxcfsVersion: await lxcfsVersion(),
      settings: [
        `host load average at start: ${await loadavg()} (other work on the machine shows up as noise in every figure)`,
        `readers: bench/reader.c (gcc -O2), each inside its own v1 cgroup (memory, cpu, cpuacct, cpuset, blkio, pids) with a memory limit, a cpuset and a CFS quota`,
        `latency: ${settings.latencyCount} timed reads per file and system (after one warm-up read), cgroup memory 256 MiB, cpuset 1, quota 100 ms/100 ms`,
        `throughput: proc/meminfo, ${settings.throughputSeconds} s per point, readers ${settings.throughputReaders.join("/")}, each in a cgroup of its own`,
        `scale: ${Math.max(...settings.scaleCounts)} cgroups with memory limits 64…${64 + Math.max(...settings.scaleCounts) - 1} MiB; at each point the first N take turns reading proc/meminfo, ≥ ${settings.scaleReads} timed reads per system after a warm-up round`,
        `idle CPU: utime+stime over ${settings.idleSeconds} s with no reads, right after the scale run (resolution: one clock tick, 10 ms at USER_HZ 100); memory: VmRSS from /proc/<pid>/status, PSS from /proc/<pid>/smaps_rollup; for procview every process is counted (the native keeper that owns the mount, the serving process, the standby)`,
        `takeover: 20 readers, each in a cgroup of its own, loop over proc/meminfo (bench/reader.c loop) while the serving process is killed (kill -9, 3 times, a standby ready each time; then the same on a procview started with --no-standby) or stopped once (SIGSTOP, replaced by the watchdog); the longest single read is the stall. The same readers on the kernel's /proc/meminfo with nothing disrupted give the machine's own stalls`,
        ...(procviewArgs.length > 0 ? [`procview started with extra options: \`${procviewArgs.join(" ")}\``] : []),
        `per-container files: the reader in a mount namespace of its own with the container's own file (\`containers/<id>/…\`, the container registered by its cgroup) bound over the kernel's, as the hook and runc bind it; LXCFS's file bound the same way; the kernel's without a bind. ${settings.latencyCount} repeated reads per file and system; first reads: 100 (quick: 30), each after a pause of twice --cache-ms. 500 containers (cgroups with memory limits, registered by cgroups path as the NRI plugin does): one C reader per container, ${settings.mode === "full" ? 30 : 12} s, CPU measured over the middle ${settings.mode === "full" ? 20 : 6} s; the numbers' age is the container's uptime shown against /proc/uptime read right after`,
        `hook: \`podman run --rm -m 256m --cpus 1 … /bin/true\` (runc, busybox rootfs), ${settings.hookRuns} runs with the hook and ${settings.hookRuns} without, alternating`,
      ],
    },
    latency: notMeasured("not run"),
    throughput: notMeasured("not run"),
    scale: notMeasured("not run"),
    rss: { procview: notMeasured("not run"), lxcfs: notMeasured("not run") },
    idle: { procview: notMeasured("not run"), lxcfs: notMeasured("not run") },
    hook: notMeasured("not run"),
  };

  const targets: Record<SystemName, Outcome<ReadTarget>> = {
    procview: notMeasured("not started"),
    lxcfs: notMeasured("not started"),
    kernel: measured(kernel),
  };
  let pool: CgroupPool | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      const failures = pool ? await pool.remove() : [];
      for (const f of failures) log(`cleanup: ${f}`);
      for (const t of [targets.procview, targets.lxcfs]) if (t.ok) await t.value.stop().catch((err) => log(`cleanup: ${oneLine(err)}`));
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const reader = await attempt(buildReader);
    const made = await attempt(() => Promise.resolve(new CgroupPool()));
    if (made.ok) {
      pool = made.value;
      log(`cgroups under ${pool.parent}`);
    }
    targets.procview = await attempt(() => startProcviewTarget(procviewArgs));
    targets.lxcfs = await attempt(startLxcfsTarget);
    for (const n of ["procview", "lxcfs"] as const) {
      const t = targets[n];
      log(t.ok ? `${n} serving ${t.value.path("proc/meminfo")} (pid ${t.value.pid ?? "not found"})` : `${n} not started: ${t.why}`);
    }
    const bare = { targets, settings, log };
    results.rssAtStart = await rssScenario(bare);
    // Everything but the hook reads through the C reader inside cgroups.
    const missing = !reader.ok ? `reader: ${reader.why}` : !made.ok ? `cgroups: ${made.why}` : undefined;
    const ctx: Context | undefined = reader.ok && pool ? { reader: reader.value, targets, settings, cgroups: pool, log } : undefined;
    const timed = async <T>(name: string, fn: () => Promise<T>): Promise<Outcome<T>> => {
      if (skip.has(name)) return notMeasured(`skipped (--skip ${name})`);
      const t0 = Date.now();
      log(`${name}…`);
      const r = await attempt(fn);
      log(`${name}: ${r.ok ? "done" : "not measured: " + r.why} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      return r;
    };

    const needsReader =
      <T>(fn: (c: Context) => Promise<T>) =>
      () =>
        ctx ? fn(ctx) : Promise.reject(new Error(missing ?? "not run"));
    results.latency = await timed("latency", needsReader(latencyScenario));
    results.throughput = await timed(
      "throughput",
      needsReader((c) => throughputScenario(c, cpuCount)),
    );
    const scale = await timed(
      "scale",
      needsReader((c) => scaleScenario(c, cpuCount)),
    );
    results.scale = scale.ok ? measured(scale.value.rows) : scale;
    const pageCache = await timed(
      "page-cache",
      needsReader((c) => pageCacheScenario(c, cacheMsOf(procviewArgs))),
    );
    if (pageCache.ok) results.pageCache = pageCache.value;
    else {
      const why = notMeasured<never>(pageCache.why);
      results.pageCache = { bound: why, firstRead: why, load: why };
    }
    // Memory right after the many-cgroup run, then CPU over a window with no reads at all.
    if (skip.has("memory")) {
      const why = "skipped (--skip memory)";
      results.rss = { procview: notMeasured(why), lxcfs: notMeasured(why) };
      results.idle = { procview: notMeasured(why), lxcfs: notMeasured(why) };
    } else {
      results.rss = await rssScenario(bare);
      results.memoryDetail = await memoryDetailScenario(bare);
      results.processMemory = await processMemoryScenario(bare);
      if (scale.ok && pool) for (const f of await pool.remove(scale.value.groups)) log(`cleanup: ${f}`);
      log(`idle CPU: ${settings.idleSeconds} s with no reads…`);
      results.idle = await idleScenario(bare);
    }
    results.takeover = await timed(
      "takeover",
      needsReader((c) => takeoverScenario(c, cpuCount, procviewArgs)),
    );
    results.hook = await timed("hook", () => hookScenario(bare));
  } finally {
    await cleanup();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }

  results.meta.durationSeconds = (Date.now() - began) / 1000;
  results.meta.settings.push(`host load average at end: ${await loadavg()}`);
  const report = renderReport(results);
  process.stdout.write("\n" + report);
  await mkdir(dirname(out), { recursive: true });
  const tmp = `${out}.tmp`;
  await writeFile(tmp, report);
  await rename(tmp, out);
  log(`written to ${out}`);
}

const program = new Command("bench")
  .description("procview vs lxcfs vs the kernel, read from processes in real cgroups; writes a markdown table of figures and targets")
  .option("--quick", "a short run (≤ 1 minute): fewer reads, shorter points, fewer podman runs", false)
  .option("--out <file>", "where to write the report", DEFAULT_OUT)
  .option("--latency-count <n>", "timed reads per file and system", positive)
  .option("--throughput-seconds <n>", "seconds per throughput point", positive)
  .option("--hook-runs <n>", "podman runs with and without the hook", positive)
  .option("--skip <scenarios>", "comma-separated: latency,throughput,scale,page-cache,memory,takeover,hook", "")
  .option("--procview-args <args>", "extra `procview serve` options, space-separated, for experiments (recorded in the report)", "")
  .action(
    async (o: {
      quick: boolean;
      out: string;
      latencyCount?: number;
      throughputSeconds?: number;
      hookRuns?: number;
      skip: string;
      procviewArgs: string;
    }) => {
      const settings: Settings = { ...(o.quick ? QUICK : FULL) };
      if (o.latencyCount) settings.latencyCount = o.latencyCount;
      if (o.throughputSeconds) settings.throughputSeconds = o.throughputSeconds;
      if (o.hookRuns) settings.hookRuns = o.hookRuns;
      const skip = new Set(
        o.skip
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      );
      for (const s of skip)
        if (!["latency", "throughput", "scale", "page-cache", "memory", "takeover", "hook"].includes(s))
          throw new InvalidArgumentError(`unknown scenario ${s}`);
      if (process.getuid?.() !== 0) log("not root: cgroups cannot be created, most rows will be not measured");
      await bench(settings, resolve(o.out), skip, o.procviewArgs.split(" ").filter(Boolean));
    },
  );

await program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
