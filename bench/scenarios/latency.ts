// Latency of open + read-all + close of every view file, from one reader in a limited cgroup,
// for procview, lxcfs and the kernel's own file. The reads are split into passes that alternate
// the system order, so a drift of the machine (other work starting or stopping) is shared out
// rather than landing on whichever system happens to be read at that moment.
import { existsSync } from "node:fs";
import type { Context } from "../context.js";
import { usable } from "../context.js";
import { latencyIn } from "../reader.js";
import { measured, notMeasured, oneLine, type LatencyRow, type Outcome, type SystemName } from "../results.js";
import { summarizeNs, type LatencySummary } from "../stats.js";
import { VIEW_FILES } from "../../core/layout.js";

// In the cgroup2 hierarchy too, as runc places containers, so pressure is read from the reader's own cgroup.
export const LATENCY_CGROUP = { memoryLimitBytes: 256 * 1024 * 1024, cpus: "1", cfsQuotaUs: 100_000, cfsPeriodUs: 100_000, unified: true };

/** Files beyond LXCFS's set: no target, the kernel's own file is the comparison (LXCFS 5 serves
 * none of them but slabinfo, LXCFS 6 adds pressure; measured wherever it serves them). */
export const BEYOND_LXCFS: ReadonlySet<string> = new Set([
  "proc/pressure/cpu",
  "proc/pressure/memory",
  "proc/pressure/io",
  "proc/vmstat",
  "proc/slabinfo",
]);

export async function latencyScenario(ctx: Context): Promise<LatencyRow[]> {
  const group = ctx.cgroups.create("latency", LATENCY_CGROUP);
  try {
    const rows: LatencyRow[] = [];
    const passes = ctx.settings.latencyCount >= 1000 ? 4 : 2;
    const chunk = Math.max(1, Math.ceil(ctx.settings.latencyCount / passes));
    const order: SystemName[] = ["procview", "lxcfs", "kernel"];
    for (const file of VIEW_FILES) {
      const samples: Record<SystemName, number[]> = { procview: [], lxcfs: [], kernel: [] };
      const failed: Partial<Record<SystemName, string>> = {};
      for (let p = 0; p < passes; p++) {
        const pass = p % 2 === 0 ? order : [...order].reverse();
        for (const name of pass) {
          if (failed[name]) continue;
          const target = usable(ctx, name);
          if (!target.ok) {
            failed[name] = target.why;
            continue;
          }
          if (!existsSync(target.value.path(file))) {
            failed[name] = `${name} serves no ${file}`;
            continue;
          }
          try {
            samples[name].push(...(await latencyIn(ctx.reader, group.procsFiles(), target.value.path(file), chunk)));
          } catch (err) {
            failed[name] = oneLine(err);
          }
        }
      }
      const outcome = (name: SystemName): Outcome<LatencySummary> => {
        const why = failed[name];
        return why !== undefined ? notMeasured(why) : measured(summarizeNs(samples[name]));
      };
      const row = {
        file,
        targeted: !BEYOND_LXCFS.has(file),
        procview: outcome("procview"),
        lxcfs: outcome("lxcfs"),
        kernel: outcome("kernel"),
      };
      ctx.log(
        `latency ${file}: ${(["procview", "lxcfs", "kernel"] as const).map((n) => `${n} ${row[n].ok ? row[n].value.medianUs.toFixed(1) + " µs" : "n/m"}`).join(", ")}`,
      );
      rows.push(row);
    }
    return rows;
  } finally {
    await ctx.cgroups.remove([group]);
  }
}
