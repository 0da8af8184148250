import type { CpuTime } from "../cgroup/types.js";
import { formatHundredths } from "./units.js";

export interface UptimeNumbers {
  uptimeSeconds: number;
  idleSeconds: number;
}

/** "uptime idle\n" with two decimals, truncated as fs/proc/uptime.c does (it never rounds up). */
export function renderUptime(u: UptimeNumbers): string {
  return `${formatHundredths(truncHundredths(u.uptimeSeconds))} ${formatHundredths(truncHundredths(u.idleSeconds))}\n`;
}

// The epsilon keeps 0.29 (0.28999… in binary) from printing as 0.28.
function truncHundredths(seconds: number): number {
  return Math.floor(seconds * 100 + 1e-6);
}

/**
 * The container's uptime is the age of its init (its start time, in ticks since host boot, as
 * /proc/<pid>/stat field 22 gives it); its idle time is what its shown CPUs could have run in
 * that time minus what the cgroup did run, the same idle as its /proc/stat.
 */
export function containerUptime(input: {
  hostUptimeSeconds: number;
  initStartTicks: number;
  ticksPerSecond: number;
  usage: CpuTime;
  visibleCpuCount: number;
}): UptimeNumbers {
  const uptimeSeconds = Math.max(0, input.hostUptimeSeconds - input.initStartTicks / input.ticksPerSecond);
  const busySeconds = (input.usage.userNs + input.usage.systemNs) / 1e9;
  const idleSeconds = Math.max(0, uptimeSeconds * input.visibleCpuCount - busySeconds);
  return { uptimeSeconds, idleSeconds };
}
