// What a reader of each served file must see, derived in the test from the fixture's expected
// numbers and the host files' text, without calling the views: the kernel's formats written out
// here, plus the rules the README and the view comments state (quota → CPUs, swap, uptime); and
// for diskstats, reviewed golden files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRenderer, type ViewRenderer } from "../../fuse/server/render.js";
import { LoadView } from "../../fuse/server/load/view.js";
import { LoadTable, createLoadTableBuffers } from "../../fuse/server/load/table.js";
import { fixtureRoots, type Expected, type TreeName } from "../fixtures/index.js";
import type { PressureResourceName } from "../fixtures/spec.js";
import { type ViewName } from "../../core/layout.js";
import { PACKAGE_ROOT } from "../../core/paths.js";

export const TREES: TreeName[] = ["v1", "v2"];
export const USER_HZ = 100;

/** The serving threads' renderer over a fixture tree: a fresh load table, no port to a main thread. */
export function rendererFor(tree: TreeName, useCpuQuota: boolean): ViewRenderer {
  const roots = fixtureRoots(tree);
  const loads = new LoadView(new LoadTable(createLoadTableBuffers(64)), null, () => {});
  return createRenderer({ ...roots, useCpuQuota, cacheMs: 0 }, loads);
}

export const readAs = (render: ViewRenderer, view: ViewName, pid: number): string => render(view, { pid, uid: 0, gid: 0 }).text;

export interface HostText {
  meminfo: string;
  cpuinfo: string;
  stat: string;
  uptime: string;
  loadavg: string;
  diskstats: string;
  swaps: string;
  cpuOnline: string;
  pressure: Record<PressureResourceName, string>;
  vmstat: string;
  slabinfo: string;
}

export function hostText(tree: TreeName): HostText {
  const { procRoot, sysRoot } = fixtureRoots(tree);
  const proc = (name: string) => readFileSync(join(procRoot, name), "utf8");
  return {
    meminfo: proc("meminfo"),
    cpuinfo: proc("cpuinfo"),
    stat: proc("stat"),
    uptime: proc("uptime"),
    loadavg: proc("loadavg"),
    diskstats: proc("diskstats"),
    swaps: proc("swaps"),
    cpuOnline: readFileSync(join(sysRoot, "devices/system/cpu/online"), "utf8"),
    pressure: { cpu: proc("pressure/cpu"), memory: proc("pressure/memory"), io: proc("pressure/io") },
    vmstat: proc("vmstat"),
    slabinfo: proc("slabinfo"),
  };
}

// ---------------------------------------------------------------- meminfo

/** A meminfo line as fs/proc/meminfo.c prints it: label padded to 16, value right-aligned in 8. */
export const meminfoLine = (key: string, kb: number): string => `${`${key}:`.padEnd(16)}${String(kb).padStart(8)} kB`;

/** `key → value in kB` of a meminfo text (first number after the colon). */
export function meminfoValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([^:]+):\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export const meminfoLineOf = (text: string, key: string): string | undefined => text.split("\n").find((l) => l.startsWith(`${key}:`));

const kb = (bytes: number): number => Math.floor(bytes / 1024);

export interface MeminfoExpectation {
  memTotal: number;
  memFree: number;
  /** LXCFS's MemAvailable: free + file LRU + reclaimable slab, at most MemTotal. */
  memAvailable: number;
  swapTotal: number;
  swapFree: number;
  /** Lines computed from memory.stat, in kB. */
  fromStat: Record<string, number>;
}

export function expectedMeminfo(e: Expected, host: Map<string, number>): MeminfoExpectation {
  const hostTotal = host.get("MemTotal")!;
  const memTotal = e.memory.limitBytes === null ? hostTotal : Math.min(hostTotal, kb(e.memory.limitBytes));
  const memFree = Math.max(0, memTotal - kb(e.memory.usageBytes));
  const s = e.memory.stat;
  const memAvailable = Math.min(memTotal, memFree + kb(s.activeFileBytes) + kb(s.inactiveFileBytes) + kb(s.slabReclaimableBytes));
  const { swapTotal, swapFree } = expectedSwap(e, host.get("SwapTotal")!, host.get("SwapFree")!);
  return {
    memTotal,
    memFree,
    memAvailable,
    swapTotal,
    swapFree,
    fromStat: {
      Buffers: 0,
      Cached: Math.min(memTotal, kb(s.fileBytes)),
      SwapCached: kb(s.swapCachedBytes),
      Active: kb(s.activeAnonBytes + s.activeFileBytes),
      Inactive: kb(s.inactiveAnonBytes + s.inactiveFileBytes),
      "Active(anon)": kb(s.activeAnonBytes),
      "Inactive(anon)": kb(s.inactiveAnonBytes),
      "Active(file)": kb(s.activeFileBytes),
      "Inactive(file)": kb(s.inactiveFileBytes),
      Unevictable: kb(s.unevictableBytes),
      Dirty: kb(s.dirtyBytes),
      Writeback: kb(s.writebackBytes),
      AnonPages: kb(s.anonBytes),
      Mapped: kb(s.mappedBytes),
      Shmem: kb(s.shmemBytes),
      Slab: kb(s.slabReclaimableBytes) + kb(s.slabUnreclaimableBytes),
      SReclaimable: kb(s.slabReclaimableBytes),
      SUnreclaim: kb(s.slabUnreclaimableBytes),
      KReclaimable: kb(s.slabReclaimableBytes),
      ...Object.fromEntries(
        Object.entries(MEMINFO_FROM_V2_STAT).flatMap(([key, field]) => (s[field] === null ? [] : [[key, kb(s[field])]])),
      ),
    },
  };
}

/** meminfo lines v2's memory.stat accounts per cgroup (v1 only AnonHugePages): null in the stat means the host's line. */
export const MEMINFO_FROM_V2_STAT = {
  KernelStack: "kernelStackBytes",
  PageTables: "pageTablesBytes",
  SecPageTables: "secPageTablesBytes",
  Percpu: "percpuBytes",
  AnonHugePages: "anonHugePagesBytes",
  ShmemHugePages: "shmemHugePagesBytes",
  FileHugePages: "fileHugePagesBytes",
  Zswap: "zswapBytes",
  Zswapped: "zswappedBytes",
} as const satisfies Record<string, keyof Expected["memory"]["stat"]>;

/**
 * The swap rule (fuse/views/swap-view.ts): host without swap → none; no swap accounting → the
 * host's swap only when memory is unlimited, else none; otherwise the cgroup's swap limit capped
 * at the host's, minus the cgroup's swap usage.
 */
export function expectedSwap(e: Expected, hostTotalKb: number, hostFreeKb: number): { swapTotal: number; swapFree: number } {
  if (hostTotalKb <= 0) return { swapTotal: 0, swapFree: 0 };
  const swap = e.memory.swap;
  if (swap === null) return e.memory.limitBytes === null ? { swapTotal: hostTotalKb, swapFree: hostFreeKb } : { swapTotal: 0, swapFree: 0 };
  const swapTotal = swap.limitBytes === null ? hostTotalKb : Math.min(hostTotalKb, kb(swap.limitBytes));
  return { swapTotal, swapFree: Math.max(0, swapTotal - kb(swap.usageBytes)) };
}

/** Lines about the whole machine (kernel address space, huge pages, direct map): the host's, byte for byte. */
export const MEMINFO_PASSTHROUGH = [
  "VmallocTotal",
  "VmallocUsed",
  "VmallocChunk",
  "HugePages_Total",
  "HugePages_Free",
  "HugePages_Rsvd",
  "HugePages_Surp",
  "Hugepagesize",
  "Hugetlb",
  "DirectMap4k",
  "DirectMap2M",
  "DirectMap1G",
];

// ---------------------------------------------------------------- CPUs

/** The CPUs shown: the cpuset, cut to ceil(quota/period) (at least 1) with the quota rule on. */
export function expectedVisible(e: Expected, useQuota: boolean): number[] {
  const set = e.cpu.cpuset;
  const q = e.cpu.quota;
  if (!useQuota || q === null) return set;
  const wanted = Math.max(1, Math.ceil(q.quotaUs / q.periodUs));
  return set.slice(0, Math.min(wanted, set.length));
}

/** Host cpuinfo blocks by host CPU id (each without its trailing blank line). */
export function cpuinfoBlocks(cpuinfo: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const block of cpuinfo.split("\n\n")) {
    const lines = block.split("\n").filter((l) => l !== "");
    const p = lines.map((l) => /^processor\s*: (\d+)$/.exec(l)).find((m) => m);
    if (p) out.set(Number(p[1]), lines);
  }
  return out;
}

/** The block a reader sees for host CPU `hostId` shown as processor `id` out of `shown`. */
export function expectedCpuinfoBlock(hostBlock: string[], id: number, shown: number): string[] {
  return hostBlock.map((line) => {
    if (/^processor\s*:/.test(line)) return line.replace(/\d+$/, String(id));
    const m = /^(siblings|cpu cores)(\s*: )(\d+)$/.exec(line);
    if (m && Number(m[3]) > shown) return `${m[1]}${m[2]}${shown}`;
    return line;
  });
}

export const cpuRange = (n: number): string => (n <= 1 ? "0\n" : `0-${n - 1}\n`);

// ---------------------------------------------------------------- stat, uptime

/** ns → USER_HZ ticks, truncating. */
export const ticks = (ns: number): number => Math.floor((ns * USER_HZ) / 1e9);

/** /proc/uptime's first field in hundredths, read as an integer (no float rounding). */
export function hundredths(text: string): number {
  const m = /^(\d+)\.(\d\d)/.exec(text);
  if (!m) throw new Error(`not a hundredths number: ${JSON.stringify(text)}`);
  return Number(m[1]) * 100 + Number(m[2]);
}

/** The container's age in ticks (= hundredths at USER_HZ 100): host uptime − init's start ticks. */
export const ageTicks = (hostUptime: string, e: Expected): number => Math.max(0, hundredths(hostUptime) - e.nsInitStartTicks);

export const fmtHundredths = (h: number): string => `${Math.floor(h / 100)}.${String(h % 100).padStart(2, "0")}`;

export interface CpuLine {
  label: string;
  cols: number[];
}

export function cpuLines(stat: string): CpuLine[] {
  return stat
    .split("\n")
    .filter((l) => /^cpu\d* /.test(l))
    .map((l) => {
      const [label, ...rest] = l.split(/ +/);
      return { label: label!, cols: rest.map(Number) };
    });
}

export const lineStarting = (text: string, prefix: string): string | undefined => text.split("\n").find((l) => l.startsWith(prefix));

// ---------------------------------------------------------------- golden files

/** Reviewed texts, for views whose expected text is best read whole rather than worked out here. */
const GOLDEN_DIR = join(PACKAGE_ROOT, "test", "views-pipeline", "golden");

export function goldenPath(view: ViewName, tree: TreeName, scenario: string): string {
  return join(GOLDEN_DIR, view, tree, `${scenario}.txt`);
}

/**
 * The reviewed text of `view` for a scenario. With PROCVIEW_WRITE_GOLDEN=1 the rendered text is
 * written there first: review the diff (git diff test/views-pipeline/golden) before committing.
 */
export function golden(view: ViewName, tree: TreeName, scenario: string, rendered: string): string {
  const path = goldenPath(view, tree, scenario);
  if (process.env.PROCVIEW_WRITE_GOLDEN === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, rendered);
  }
  if (!existsSync(path)) throw new Error(`no golden file ${path}: write it with PROCVIEW_WRITE_GOLDEN=1, then review it`);
  return readFileSync(path, "utf8");
}
