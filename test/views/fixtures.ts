import { readFileSync } from "node:fs";
import type { MemoryNumbers, MemoryStat } from "../../fuse/cgroup/types.js";

// Compiled to dist/test/views/; the fixture text stays in the source tree.
const HOST_DIR = new URL("../../../test/views/host/", import.meta.url);

/** Host /proc text captured from a real machine (or hand-made variants of it), by file name. */
export function host(name: string): string {
  return readFileSync(new URL(name, HOST_DIR), "utf8");
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export function memStat(overrides: Partial<MemoryStat> = {}): MemoryStat {
  return {
    anonBytes: 40 * MiB,
    fileBytes: 100 * MiB,
    activeAnonBytes: 30 * MiB,
    inactiveAnonBytes: 10 * MiB,
    activeFileBytes: 60 * MiB,
    inactiveFileBytes: 40 * MiB,
    unevictableBytes: 0,
    shmemBytes: 4 * MiB,
    mappedBytes: 12 * MiB,
    swapCachedBytes: 0,
    slabReclaimableBytes: 6 * MiB,
    slabUnreclaimableBytes: 2 * MiB,
    dirtyBytes: 64 * 1024,
    writebackBytes: 0,
    kernelStackBytes: null,
    pageTablesBytes: null,
    secPageTablesBytes: null,
    percpuBytes: null,
    anonHugePagesBytes: null,
    shmemHugePagesBytes: null,
    fileHugePagesBytes: null,
    zswapBytes: null,
    zswappedBytes: null,
    ...overrides,
  };
}

export function mem(overrides: Partial<MemoryNumbers> = {}): MemoryNumbers {
  return { limitBytes: null, usageBytes: 150 * MiB, swap: null, stat: memStat(), ...overrides };
}

/** The lines of a /proc text, keyed by what comes before the first ':' (or space, for /proc/stat). */
export function lineMap(text: string, sep = ":"): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(sep);
    if (i > 0) m.set(line.slice(0, i), line);
  }
  return m;
}

export function line(text: string, key: string, sep = ":"): string {
  const l = lineMap(text, sep).get(key);
  if (l === undefined) throw new Error(`no ${key} line`);
  return l;
}

export function kb(text: string, key: string): number {
  return Number(/(\d+)/.exec(line(text, key).slice(key.length + 1))![1]);
}
