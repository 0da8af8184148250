import type { MemoryNumbers } from "../cgroup/types.js";
import { swapView } from "./swap-view.js";
import { bytesToKb } from "./units.js";

/** Sum of the host's "Used" column (KiB): what the host has swapped out. */
function hostUsedKb(lines: readonly string[]): number {
  let used = 0;
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.trim().split(/\s+/);
    if (cols.length >= 4) used += Number(cols[3]) || 0;
  }
  return used;
}

/**
 * One /proc/swaps row as mm/swapfile.c's swap_show prints it: the name padded to 40 columns, then
 * "%s\t%lu\t%s%lu\t%s%d" with an extra tab after numbers below 10000000. The type gets two tabs
 * (as LXCFS does) so that, like the kernel's "partition" rows, Size lines up under the header.
 */
function swapRow(sizeKb: number, usedKb: number): string {
  return (
    "none" +
    " ".repeat(36) +
    "virtual\t\t" +
    `${sizeKb}\t${sizeKb < 10000000 ? "\t" : ""}` +
    `${usedKb}\t${usedKb < 10000000 ? "\t" : ""}` +
    "0\n"
  );
}

/**
 * The container's /proc/swaps: the host's header, then one "none virtual" row for the swap
 * meminfo shows (same SwapTotal, Used = SwapTotal − SwapFree), or no row when that is 0.
 * hostSwapFreeBytes is meminfo's SwapFree; without it the host's is derived from its rows.
 */
export function renderSwaps(hostSwaps: string, mem: MemoryNumbers, hostSwapTotalBytes: number, hostSwapFreeBytes?: number): string {
  const lines = hostSwaps.split("\n");
  const header = lines[0] ?? "";
  const hostTotalKb = bytesToKb(hostSwapTotalBytes);
  const hostFreeKb = hostSwapFreeBytes === undefined ? hostTotalKb - hostUsedKb(lines) : bytesToKb(hostSwapFreeBytes);
  const view = swapView(mem, hostTotalKb, hostFreeKb);
  const headerLine = header + "\n";
  return view.totalKb > 0 ? headerLine + swapRow(view.totalKb, view.totalKb - view.freeKb) : headerLine;
}
