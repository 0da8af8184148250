// procview's serving process killed (kill -9) or stopped (SIGSTOP) under 20 readers, each in a
// cgroup of its own looping over proc/meminfo: the longest read any of them saw, and whether
// any failed. With the standby (the default), with --no-standby for comparison (a serving
// process is started when the other dies), and the kernel's own file read the same way with
// nothing disrupted: the stalls the machine itself causes.
import { setTimeout as sleep } from "node:timers/promises";
import type { TestCgroup } from "../../testbed/cgroups.js";
import type { Context } from "../context.js";
import { usable } from "../context.js";
import { loopIn } from "../reader.js";
import { attempt, type StallRun, type TakeoverResults } from "../results.js";
import { startProcviewTarget, type ReadTarget } from "../systems.js";
import type { KeeperStatus } from "../../fuse/keeper/status.js";

const READERS = 20;
const KILLS = 3;
const MIB = 1024 * 1024;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(50)) if (await check()) return;
  throw new Error(`timed out waiting for ${what}`);
}

async function keeperOf(target: ReadTarget): Promise<KeeperStatus> {
  const status = await target.keeper?.();
  if (!status) throw new Error("procview's keeper does not answer");
  return status;
}

/** Readers in every group loop over `file` for `seconds`, while `disrupt` runs; their worst read. */
async function underReaders(
  ctx: Context,
  groups: TestCgroup[],
  file: string,
  seconds: number,
  disrupt: () => Promise<number>,
): Promise<StallRun> {
  const readers = Promise.all(groups.map((g) => loopIn(ctx.reader, g.procsFiles(), file, seconds)));
  const disrupted = await disrupt().catch(async (err: unknown) => {
    await readers.catch(() => undefined);
    throw err;
  });
  const samples = await readers;
  return {
    disruptions: disrupted,
    readers: samples.length,
    reads: samples.reduce((n, s) => n + s.reads, 0),
    errors: samples.reduce((n, s) => n + s.errors, 0),
    worstStallMs: Math.max(...samples.map((s) => s.longestNs)) / 1e6,
  };
}

/** kill -9 of the serving process KILLS times, a second apart, each after a standby is ready (when there is one). */
function killRun(ctx: Context, groups: TestCgroup[], target: ReadTarget, standby: boolean): Promise<StallRun> {
  const perKill = standby ? 2.5 : 5;
  return underReaders(ctx, groups, target.path("proc/meminfo"), 2 + KILLS * perKill, async () => {
    await sleep(1000);
    for (let kill = 0; kill < KILLS; kill++) {
      if (standby) await until("a standby ready to take over", async () => (await keeperOf(target)).standbyReady);
      const victim = (await keeperOf(target)).servingPid;
      if (victim === null) throw new Error("no serving process to kill");
      process.kill(victim, "SIGKILL");
      await until("another serving process", async () => {
        const now = await keeperOf(target);
        return now.servingPid !== null && now.servingPid !== victim;
      });
      await sleep(1000);
    }
    return KILLS;
  });
}

/** SIGSTOP of the serving process once: the watchdog replaces it. */
async function stopRun(ctx: Context, groups: TestCgroup[], target: ReadTarget): Promise<StallRun & { deadlineMs: number }> {
  const before = await keeperOf(target);
  if (!before.watchdogMs) throw new Error("the watchdog is off (--watchdog-ms 0)");
  const run = await underReaders(ctx, groups, target.path("proc/meminfo"), 3 + before.watchdogMs / 1000 + 2, async () => {
    await until("a standby ready to take over", async () => (await keeperOf(target)).standbyReady);
    await sleep(1000);
    const victim = (await keeperOf(target)).servingPid;
    if (victim === null) throw new Error("no serving process to stop");
    process.kill(victim, "SIGSTOP");
    await until("the watchdog to replace it", async () => (await keeperOf(target)).hangs > before.hangs);
    return 1;
  });
  return { ...run, deadlineMs: before.watchdogMs };
}

export async function takeoverScenario(ctx: Context, cpuCount: number, procviewArgs: string[]): Promise<TakeoverResults> {
  const main = usable(ctx, "procview");
  if (!main.ok) throw new Error(main.why);
  const groups: TestCgroup[] = [];
  try {
    for (let i = 0; i < READERS; i++) {
      groups.push(
        ctx.cgroups.create(`takeover-${i}`, {
          memoryLimitBytes: (128 + 8 * i) * MIB,
          cpus: String(i % Math.max(1, cpuCount)),
        }),
      );
    }
    const baseline = await attempt(() => underReaders(ctx, groups, "/proc/meminfo", 5, () => Promise.resolve(0)));
    const standby = await attempt(() => killRun(ctx, groups, main.value, true));
    ctx.log(`takeover: kill -9 with a standby: ${standby.ok ? `${standby.value.worstStallMs.toFixed(1)} ms` : standby.why}`);
    const watchdog = await attempt(() => stopRun(ctx, groups, main.value));
    ctx.log(`takeover: SIGSTOP: ${watchdog.ok ? `${watchdog.value.worstStallMs.toFixed(1)} ms` : watchdog.why}`);
    const coldStart = await attempt(async () => {
      const cold = await startProcviewTarget(["--no-standby", ...procviewArgs]);
      try {
        return await killRun(ctx, groups, cold, false);
      } finally {
        await cold.stop();
      }
    });
    ctx.log(`takeover: kill -9 with --no-standby: ${coldStart.ok ? `${coldStart.value.worstStallMs.toFixed(1)} ms` : coldStart.why}`);
    return { standby, watchdog, coldStart, baseline };
  } finally {
    await ctx.cgroups.remove(groups);
  }
}
