// Throughput of proc/meminfo with 1, 2 and 8 readers side by side, each in its own cgroup
// (different memory limits, alternating cpusets, a one-CPU quota), for each system in turn.
import type { TestCgroup } from "../../testbed/cgroups.js";
import type { Context } from "../context.js";
import { usable } from "../context.js";
import { throughputIn } from "../reader.js";
import { measured, notMeasured, oneLine, type Outcome, type SystemName, type ThroughputRow } from "../results.js";
import { combinedRate } from "../stats.js";

const MIB = 1024 * 1024;

export async function throughputScenario(ctx: Context, cpuCount: number): Promise<ThroughputRow[]> {
  const most = Math.max(...ctx.settings.throughputReaders);
  const groups: TestCgroup[] = [];
  try {
    for (let i = 0; i < most; i++) {
      groups.push(
        ctx.cgroups.create(`throughput-${i}`, {
          memoryLimitBytes: (256 + 32 * i) * MIB,
          cpus: String(i % Math.max(1, cpuCount)),
          cfsQuotaUs: 100_000,
          cfsPeriodUs: 100_000,
        }),
      );
    }
    const rows: ThroughputRow[] = [];
    for (const readers of ctx.settings.throughputReaders) {
      const one = async (name: SystemName): Promise<Outcome<number>> => {
        const target = usable(ctx, name);
        if (!target.ok) return target;
        try {
          const samples = await Promise.all(
            groups
              .slice(0, readers)
              .map((g) => throughputIn(ctx.reader, g.procsFiles(), target.value.path("proc/meminfo"), ctx.settings.throughputSeconds)),
          );
          const errors = samples.reduce((n, s) => n + s.errors, 0);
          if (errors > 0) return notMeasured(`${errors} failed reads`);
          return measured(combinedRate(samples));
        } catch (err) {
          return notMeasured(oneLine(err));
        }
      };
      const row: ThroughputRow = { readers, procview: await one("procview"), lxcfs: await one("lxcfs"), kernel: await one("kernel") };
      ctx.log(
        `throughput ${readers}: ${(["procview", "lxcfs", "kernel"] as const).map((n) => `${n} ${row[n].ok ? Math.round(row[n].value) + "/s" : "n/m"}`).join(", ")}`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    await ctx.cgroups.remove(groups);
  }
}
