import type { MemoryNumbers } from "../cgroup/types.js";
import { bytesToKb } from "./units.js";

/** The swap a container is shown, in KiB; meminfo and swaps both print it, so both must take it from here. */
export interface SwapView {
  totalKb: number;
  freeKb: number;
}

/**
 * - Host without swap: nothing to show, whatever the cgroup says.
 * - No swap accounting in the cgroup: the host's swap only when memory is unlimited too (the container
 *   really can use all of it); with a memory limit we cannot tell its share, and showing none is the
 *   answer that never makes software count on swap it will not get.
 * - Otherwise: the cgroup's swap limit, capped at the host's swap, minus the cgroup's swap usage.
 */
export function swapView(mem: MemoryNumbers, hostTotalKb: number, hostFreeKb: number): SwapView {
  if (!(hostTotalKb > 0)) return { totalKb: 0, freeKb: 0 };
  const swap = mem.swap;
  if (swap === null) {
    return mem.limitBytes === null
      ? { totalKb: hostTotalKb, freeKb: Math.min(hostTotalKb, Math.max(0, hostFreeKb)) }
      : { totalKb: 0, freeKb: 0 };
  }
  const totalKb = swap.limitBytes === null ? hostTotalKb : Math.min(hostTotalKb, bytesToKb(swap.limitBytes));
  return { totalKb, freeKb: Math.max(0, totalKb - bytesToKb(swap.usageBytes)) };
}
