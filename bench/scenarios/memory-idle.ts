// The serving processes' memory (VmRSS, PSS, per process for procview) and their CPU time over a
// window with no reads.
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import type { TargetsContext } from "../context.js";
import { usable } from "../context.js";
import { attempt, notMeasured, type IdleCpu, type MemoryDetail, type Outcome, type ProcessMemory } from "../results.js";
import { parseCpuTicks, parseSmapsRollup, parseVmRssBytes } from "../stats.js";

const servers = ["procview", "lxcfs"] as const;
type Server = (typeof servers)[number];

/** Every process serving `name` (procview: its keeper, serving process and standby). */
function pidsOf(ctx: TargetsContext, name: Server): number[] {
  const t = usable(ctx, name);
  if (!t.ok) throw new Error(t.why);
  const pids = t.value.pids();
  if (pids.length === 0) throw new Error(`the ${name} process was not found in /proc`);
  return pids;
}

export async function rssBytes(pids: number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += parseVmRssBytes(await readFile(`/proc/${pid}/status`, "utf8"));
  return total;
}

const smaps = async (pid: number): Promise<MemoryDetail> => parseSmapsRollup(await readFile(`/proc/${pid}/smaps_rollup`, "utf8"));

async function memoryDetail(pids: number[]): Promise<MemoryDetail> {
  const total: MemoryDetail = { pssBytes: 0, pssAnonBytes: 0, pssFileBytes: 0, privateBytes: 0 };
  for (const pid of pids) {
    const one = await smaps(pid);
    for (const key of Object.keys(total) as Array<keyof MemoryDetail>) total[key] += one[key];
  }
  return total;
}

/** procview's processes one by one: where its memory is. */
export function processMemoryScenario(ctx: TargetsContext): Promise<Outcome<ProcessMemory[]>> {
  return attempt(async () => {
    const t = usable(ctx, "procview");
    if (!t.ok) throw new Error(t.why);
    const processes = t.value.processes?.() ?? [];
    const out: ProcessMemory[] = [];
    for (const { role, pid } of processes) out.push({ role, pid, ...(await smaps(pid)), rssBytes: await rssBytes([pid]) });
    return out;
  });
}

export function memoryDetailScenario(ctx: TargetsContext): Promise<Record<Server, Outcome<MemoryDetail>>> {
  return Promise.all(servers.map((n) => attempt(() => memoryDetail(pidsOf(ctx, n))))).then(([procview, lxcfs]) => ({
    procview: procview!,
    lxcfs: lxcfs!,
  }));
}

export function rssScenario(ctx: TargetsContext): Promise<Record<Server, Outcome<number>>> {
  return Promise.all(servers.map((n) => attempt(() => rssBytes(pidsOf(ctx, n))))).then(([procview, lxcfs]) => ({
    procview: procview!,
    lxcfs: lxcfs!,
  }));
}

async function clockTicksPerSecond(): Promise<number> {
  const r = await execa("getconf", ["CLK_TCK"], { reject: false });
  const n = Number(String(r.stdout).trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** CPU time of both servers over the same window of `seconds` with nothing reading them. */
export async function idleScenario(ctx: TargetsContext): Promise<Record<Server, Outcome<IdleCpu>>> {
  const hz = await clockTicksPerSecond();
  const ticks = async (pids: number[]) => {
    let total = 0;
    for (const pid of pids) total += parseCpuTicks(await readFile(`/proc/${pid}/stat`, "utf8"));
    return total;
  };
  const pids: Partial<Record<Server, number[]>> = {};
  const before: Partial<Record<Server, number>> = {};
  const result: Record<Server, Outcome<IdleCpu>> = { procview: notMeasured("not started"), lxcfs: notMeasured("not started") };
  for (const n of servers) {
    try {
      pids[n] = pidsOf(ctx, n);
      before[n] = await ticks(pids[n]);
    } catch (err) {
      result[n] = notMeasured((err as Error).message);
    }
  }
  const start = process.hrtime.bigint();
  await sleep(ctx.settings.idleSeconds * 1000);
  const windowSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  for (const n of servers) {
    if (before[n] === undefined) continue;
    result[n] = await attempt(async () => ({ cpuMs: (((await ticks(pids[n]!)) - before[n]!) * 1000) / hz, windowSeconds }));
  }
  return result;
}
