import type { CpuTime, TaskNumbers } from "../cgroup/types.js";
import { nsToTicks } from "./units.js";

export interface StatInput {
  visibleHostCpuIds: readonly number[];
  usage: CpuTime;
  usagePerCpu: Map<number, CpuTime> | null;
  /** How long the container has existed, in USER_HZ ticks: the most one CPU can have spent. */
  elapsedTicksPerCpu: number;
  /** USER_HZ, the unit of /proc/stat (100 on every architecture Linux exposes it on). */
  ticksPerSecond: number;
  tasks: TaskNumbers | null;
}

/** Per shown CPU (index = renumbered id), user and system ticks. */
interface CpuTicks {
  user: number[];
  system: number[];
}

/**
 * With per-CPU usage: each shown CPU gets its own, and the time of the cgroup's other host CPUs
 * (cut by the quota, or left from before a cpuset change) is dealt round-robin onto the shown ones,
 * so the total still matches the cgroup's. Without: the totals are spread evenly, the remainder
 * ticks on the first CPUs, so the lines sum exactly to the total.
 */
function cpuTicks(input: StatInput): CpuTicks {
  const ids = input.visibleHostCpuIds;
  const n = ids.length;
  const hz = input.ticksPerSecond;
  const user = new Array<number>(n).fill(0);
  const system = new Array<number>(n).fill(0);
  if (n === 0) return { user, system };
  const perCpu = input.usagePerCpu;
  if (perCpu === null) {
    spread(nsToTicks(input.usage.userNs, hz), user);
    spread(nsToTicks(input.usage.systemNs, hz), system);
    return { user, system };
  }
  const slot = new Map<number, number>();
  for (let i = 0; i < n; i++) slot.set(ids[i]!, i);
  const others: number[] = [];
  for (const id of perCpu.keys()) if (!slot.has(id)) others.push(id);
  others.sort((a, b) => a - b);
  for (let k = 0; k < others.length; k++) slot.set(others[k]!, k % n);
  // Fold in nanoseconds and truncate once per line, so folding does not lose a tick per fold.
  for (const [id, t] of perCpu) {
    const i = slot.get(id)!;
    user[i]! += t.userNs;
    system[i]! += t.systemNs;
  }
  for (let i = 0; i < n; i++) {
    user[i] = nsToTicks(user[i]!, hz);
    system[i] = nsToTicks(system[i]!, hz);
  }
  return { user, system };
}

function spread(total: number, into: number[]): void {
  const n = into.length;
  const base = Math.floor(total / n);
  const extra = total - base * n;
  for (let i = 0; i < n; i++) into[i] = base + (i < extra ? 1 : 0);
}

/** A `cpu` line: user nice system idle iowait irq softirq steal guest guest_nice. */
function cpuLine(label: string, user: number, system: number, idle: number): string {
  return `${label} ${user} 0 ${system} ${idle} 0 0 0 0 0 0`;
}

function isPerCpuLine(line: string): boolean {
  const c = line.charCodeAt(3);
  return line.startsWith("cpu") && c >= 48 && c <= 57;
}

/**
 * The container's /proc/stat: its CPU time on its shown CPUs, renumbered from 0. idle is the time
 * the container has existed minus what it ran on that CPU (never below 0), so top's usage
 * percentages are of the container's CPUs. Other lines are the host's, except procs_running and
 * procs_blocked which are the container's when known.
 */
export function renderStat(hostStat: string, input: StatInput): string {
  const { user, system } = cpuTicks(input);
  const n = user.length;
  const elapsed = Math.max(0, Math.floor(input.elapsedTicksPerCpu));
  const perCpuLines = new Array<string>(n);
  let userSum = 0;
  let systemSum = 0;
  let idleSum = 0;
  for (let i = 0; i < n; i++) {
    const idle = Math.max(0, elapsed - user[i]! - system[i]!);
    userSum += user[i]!;
    systemSum += system[i]!;
    idleSum += idle;
    perCpuLines[i] = cpuLine(`cpu${i}`, user[i]!, system[i]!, idle);
  }
  const tasks = input.tasks;
  const lines = hostStat.split("\n");
  const out: string[] = [];
  let perCpuDone = false;
  for (const line of lines) {
    if (line.startsWith("cpu ")) {
      // The kernel pads the aggregate label to the width of "cpu0" ("cpu " + " ").
      out.push(cpuLine("cpu ", userSum, systemSum, idleSum));
    } else if (isPerCpuLine(line)) {
      if (!perCpuDone) {
        for (const l of perCpuLines) out.push(l);
        perCpuDone = true;
      }
    } else if (tasks !== null && line.startsWith("procs_running ")) {
      out.push(`procs_running ${tasks.running}`);
    } else if (tasks !== null && line.startsWith("procs_blocked ")) {
      out.push(`procs_blocked ${tasks.blocked}`);
    } else {
      out.push(line);
    }
  }
  return out.join("\n");
}
