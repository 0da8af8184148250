import type { LoadNumbers, TaskNumbers } from "../cgroup/types.js";
import { formatHundredths } from "./units.js";

/**
 * "l1 l5 l15 running/total lastpid\n" as fs/proc/loadavg.c prints it: the kernel adds half a
 * hundredth before truncating (FIXED_1/200), i.e. rounds to the nearest hundredth.
 */
export function renderLoadavg(load: LoadNumbers, tasks: TaskNumbers): string {
  return `${avg(load.load1)} ${avg(load.load5)} ${avg(load.load15)} ` + `${tasks.running}/${tasks.total} ${tasks.lastPid}\n`;
}

function avg(value: number): string {
  return formatHundredths(Math.round(value * 100));
}
