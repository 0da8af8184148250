// The kernel's load average arithmetic (include/linux/sched/loadavg.h, kernel/sched/loadavg.c),
// in the same fixed point, so a container's loadavg moves exactly like the host's would.
import type { LoadNumbers } from "../../cgroup/types.js";

export const FSHIFT = 11;
export const FIXED_1 = 1 << FSHIFT;
export const EXP_1 = 1884; // 1/exp(5s/1min) in fixed point
export const EXP_5 = 2014; // 1/exp(5s/5min)
export const EXP_15 = 2037; // 1/exp(5s/15min)

/**
 * calc_load(): newload = load*exp + active*(FIXED_1-exp), rounded up (by FIXED_1-1) while rising
 * toward the active count so a steady n reaches exactly n.00, truncated while falling so idle
 * reaches 0.00. `active` is already fixed point (n * FIXED_1). Values stay far below 2^53.
 */
export function calcLoad(load: number, exp: number, active: number): number {
  let newload = load * exp + active * (FIXED_1 - exp);
  if (active >= load) newload += FIXED_1 - 1;
  return Math.floor(newload / FIXED_1);
}

export interface FixedLoads {
  load1: number;
  load5: number;
  load15: number;
}

export const ZERO_LOADS: Readonly<FixedLoads> = Object.freeze({ load1: 0, load5: 0, load15: 0 });

/** One 5-second step with `activeTasks` runnable + uninterruptible tasks. */
export function stepLoads(loads: FixedLoads, activeTasks: number): FixedLoads {
  const active = activeTasks * FIXED_1;
  return {
    load1: calcLoad(loads.load1, EXP_1, active),
    load5: calcLoad(loads.load5, EXP_5, active),
    load15: calcLoad(loads.load15, EXP_15, active),
  };
}

/**
 * Fixed point → the decimal /proc/loadavg prints: the kernel adds FIXED_1/200 (half a hundredth)
 * then takes the integer part and truncated hundredths. Returned as exactly that two-decimal value.
 */
export function loadToDecimal(fixed: number): number {
  const v = fixed + Math.floor(FIXED_1 / 200);
  const integer = Math.floor(v / FIXED_1);
  const hundredths = Math.floor(((v % FIXED_1) * 100) / FIXED_1);
  return (integer * 100 + hundredths) / 100;
}

export function toLoadNumbers(loads: FixedLoads): LoadNumbers {
  return { load1: loadToDecimal(loads.load1), load5: loadToDecimal(loads.load5), load15: loadToDecimal(loads.load15) };
}
