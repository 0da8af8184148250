// Per-read cost of proc/meminfo as more live cgroups are read in turn: the largest count of
// cgroups is created (each with its own memory limit and quota), one long-lived turn reader
// sits in each, and at each point the first N readers read one after another, round after
// round, so consecutive reads come from different cgroups. The readers are stopped at the end;
// the groups are left for the caller (memory is measured right after) and for the pool.
import type { TestCgroup } from "../../testbed/cgroups.js";
import type { Context } from "../context.js";
import { usable } from "../context.js";
import { TurnReader } from "../reader.js";
import { measured, notMeasured, type Outcome, type ScaleRow } from "../results.js";
import { summarizeNs, type LatencySummary } from "../stats.js";

const MIB = 1024 * 1024;

export interface ScaleRun {
  rows: ScaleRow[];
  groups: TestCgroup[];
}

export async function scaleScenario(ctx: Context, cpuCount: number): Promise<ScaleRun> {
  const total = Math.max(...ctx.settings.scaleCounts);
  const groups: TestCgroup[] = [];
  const readers: TurnReader[] = [];
  try {
    const started = Date.now();
    for (let i = 0; i < total; i++) {
      groups.push(
        ctx.cgroups.create(`scale-${i}`, {
          memoryLimitBytes: (64 + i) * MIB,
          cpus: String(i % Math.max(1, cpuCount)),
          cfsQuotaUs: 20_000 + ((i * 1_000) % 80_000),
          cfsPeriodUs: 100_000,
        }),
      );
    }
    // Start the readers a batch at a time, each proving it is up (and inside its groups) with one read.
    for (let i = 0; i < total; i += 50) {
      const batch = groups.slice(i, i + 50).map((g) => TurnReader.start(ctx.reader, g.procsFiles()));
      readers.push(...batch);
      await Promise.all(
        batch.map(async (r) => {
          const first = await r.read("/proc/meminfo");
          if ("errno" in first) throw new Error(`a turn reader cannot read /proc/meminfo (errno ${first.errno})`);
        }),
      );
    }
    ctx.log(`scale: ${total} cgroups and readers ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const rows: ScaleRow[] = [];
    const names = ["procview", "lxcfs"] as const;
    for (const count of [...ctx.settings.scaleCounts].sort((a, b) => a - b)) {
      const samples: Record<(typeof names)[number], number[]> = { procview: [], lxcfs: [] };
      const failed: Partial<Record<(typeof names)[number], string>> = {};
      for (const n of names) {
        const t = usable(ctx, n);
        if (!t.ok) failed[n] = t.why;
      }
      const rounds = Math.max(1, Math.ceil(ctx.settings.scaleReads / count));
      // Round -1 is a warm-up: every cgroup's first read through each system is not counted.
      for (let round = -1; round < rounds; round++) {
        for (const n of round % 2 === 0 ? names : [...names].reverse()) {
          if (failed[n]) continue;
          const t = ctx.targets[n];
          if (!t.ok) continue;
          const path = t.value.path("proc/meminfo");
          try {
            for (let i = 0; i < count; i++) {
              const r = await readers[i]!.read(path);
              if ("errno" in r) throw new Error(`a read in cgroup ${groups[i]!.path} failed with errno ${r.errno}`);
              if (round >= 0) samples[n].push(r.ns);
            }
          } catch (err) {
            failed[n] = (err as Error).message;
          }
        }
      }
      const outcome = (n: (typeof names)[number]): Outcome<LatencySummary> => {
        const why = failed[n];
        return why !== undefined ? notMeasured(why) : measured(summarizeNs(samples[n]));
      };
      const row: ScaleRow = { cgroups: count, procview: outcome("procview"), lxcfs: outcome("lxcfs") };
      ctx.log(`scale ${count}: ${names.map((n) => `${n} ${row[n].ok ? row[n].value.medianUs.toFixed(1) + " µs" : "n/m"}`).join(", ")}`);
      rows.push(row);
    }
    return { rows, groups };
  } catch (err) {
    await ctx.cgroups.remove(groups).catch(() => undefined);
    groups.length = 0;
    throw err;
  } finally {
    await Promise.all(readers.map((r) => r.stop()));
  }
}
