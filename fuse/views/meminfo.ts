import type { MemoryNumbers } from "../cgroup/types.js";
import { swapView } from "./swap-view.js";
import { bytesToKb } from "./units.js";

// fs/proc/meminfo.c prints each value with seq_put_decimal_ull_width(…, 8) after a label
// padded to 16 columns (hugetlb's "HugePages_Total:   %5lu" comes out the same), so the number is
// right-aligned in an 8-wide field and a longer number pushes the rest of the line right.
const VALUE_WIDTH = 8;

/** Where a line's number sits: `key:<spaces><digits><suffix>`. */
interface ValueSpan {
  colon: number;
  start: number;
  end: number;
}

function valueSpan(line: string): ValueSpan | null {
  const colon = line.indexOf(":");
  if (colon < 0) return null;
  let start = colon + 1;
  while (start < line.length && line.charCodeAt(start) === 32) start++;
  let end = start;
  while (end < line.length && isDigit(line.charCodeAt(end))) end++;
  return end > start ? { colon, start, end } : null;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Puts `value` where the host's number was, in the column the kernel would: the label keeps
 * the host's bytes and padding, the number is right-aligned in the kernel's 8-wide field. The
 * field start is recovered from the host line even when the host's number overflowed the field
 * (e.g. "VmallocTotal:   34359738367 kB") or the label is longer than 16.
 */
function replaceMeminfoValue(line: string, span: ValueSpan, value: number): string {
  const labelEnd = Math.max(span.colon + 1, span.end - Math.max(span.end - span.start, VALUE_WIDTH));
  const width = Math.min(span.end - labelEnd, VALUE_WIDTH);
  return line.slice(0, labelEnd) + String(value).padStart(width, " ") + line.slice(span.end);
}

/** The container's numbers for the keys it replaces, in KiB; every other key is the host's. */
function containerValues(mem: MemoryNumbers, host: { memTotalKb: number; swapTotalKb: number; swapFreeKb: number }): Map<string, number> {
  const s = mem.stat;
  const kb = bytesToKb;
  const memTotal = mem.limitBytes === null ? host.memTotalKb : Math.min(host.memTotalKb, kb(mem.limitBytes));
  const memFree = Math.max(0, memTotal - kb(mem.usageBytes));
  const activeFile = kb(s.activeFileBytes);
  const inactiveFile = kb(s.inactiveFileBytes);
  const sReclaimable = kb(s.slabReclaimableBytes);
  const sUnreclaim = kb(s.slabUnreclaimableBytes);
  const swap = swapView(mem, host.swapTotalKb, host.swapFreeKb);
  const values = new Map<string, number>([
    ["MemTotal", memTotal],
    ["MemFree", memFree],
    // LXCFS's formula (free + file LRU + reclaimable slab), capped so available never exceeds total
    // when usage and stat are sampled at slightly different moments.
    ["MemAvailable", Math.min(memTotal, memFree + activeFile + inactiveFile + sReclaimable)],
    // cgroups do not account buffer heads apart from the page cache; it is all in Cached.
    ["Buffers", 0],
    // The cgroup's whole page cache, shmem included, as the kernel's Cached includes Shmem
    // (LXCFS: total_cache); capped for the same sampling reason as MemAvailable.
    ["Cached", Math.min(memTotal, kb(s.fileBytes))],
    ["SwapCached", kb(s.swapCachedBytes)],
    ["Active", kb(s.activeAnonBytes + s.activeFileBytes)],
    ["Inactive", kb(s.inactiveAnonBytes + s.inactiveFileBytes)],
    ["Active(anon)", kb(s.activeAnonBytes)],
    ["Inactive(anon)", kb(s.inactiveAnonBytes)],
    ["Active(file)", activeFile],
    ["Inactive(file)", inactiveFile],
    ["Unevictable", kb(s.unevictableBytes)],
    ["SwapTotal", swap.totalKb],
    ["SwapFree", swap.freeKb],
    ["Dirty", kb(s.dirtyBytes)],
    ["Writeback", kb(s.writebackBytes)],
    ["AnonPages", kb(s.anonBytes)],
    ["Mapped", kb(s.mappedBytes)],
    ["Shmem", kb(s.shmemBytes)],
    ["Slab", sReclaimable + sUnreclaim],
    ["SReclaimable", sReclaimable],
    ["SUnreclaim", sUnreclaim],
    // The kernel's KReclaimable adds to SReclaimable the few other reclaimable kernel pages it
    // counts only machine-wide; the cgroup's reclaimable slab is all a container can know.
    ["KReclaimable", sReclaimable],
  ]);
  // Lines the kernel accounts per cgroup on v2 (memory.stat); where it does not, the host's line stays.
  const optional: [string, number | null][] = [
    ["KernelStack", s.kernelStackBytes],
    ["PageTables", s.pageTablesBytes],
    ["SecPageTables", s.secPageTablesBytes],
    ["Percpu", s.percpuBytes],
    ["AnonHugePages", s.anonHugePagesBytes],
    ["ShmemHugePages", s.shmemHugePagesBytes],
    ["FileHugePages", s.fileHugePagesBytes],
    ["Zswap", s.zswapBytes],
    ["Zswapped", s.zswappedBytes],
  ];
  for (const [key, bytes] of optional) if (bytes !== null) values.set(key, kb(bytes));
  return values;
}

/**
 * /proc/meminfo for the container: the host's text with the memory and swap lines replaced by the
 * cgroup's numbers, every other line byte for byte the host's, in the host's order.
 */
export function renderMeminfo(hostMeminfo: string, mem: MemoryNumbers): string {
  const lines = hostMeminfo.split("\n");
  const spans = new Array<ValueSpan | null>(lines.length);
  const host = { memTotalKb: 0, swapTotalKb: 0, swapFreeKb: 0 };
  // First loop: the few host numbers the view depends on (SwapFree comes after SwapTotal, yet
  // SwapTotal's view may depend on it).
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const span = valueSpan(line);
    spans[i] = span;
    if (span === null) continue;
    const key = line.slice(0, span.colon);
    if (key === "MemTotal") host.memTotalKb = Number(line.slice(span.start, span.end));
    else if (key === "SwapTotal") host.swapTotalKb = Number(line.slice(span.start, span.end));
    else if (key === "SwapFree") host.swapFreeKb = Number(line.slice(span.start, span.end));
  }
  const values = containerValues(mem, host);
  for (let i = 0; i < lines.length; i++) {
    const span = spans[i];
    if (span == null) continue;
    const line = lines[i]!;
    const value = values.get(line.slice(0, span.colon));
    if (value !== undefined) lines[i] = replaceMeminfoValue(line, span, value);
  }
  return lines.join("\n");
}
