import test from "ava";
import { renderMeminfo } from "../../fuse/views/index.js";
import { GiB, MiB, host, kb, line, mem, memStat } from "./fixtures.js";

const REPLACED = new Set([
  "MemTotal",
  "MemFree",
  "MemAvailable",
  "Buffers",
  "Cached",
  "SwapCached",
  "Active",
  "Inactive",
  "Active(anon)",
  "Inactive(anon)",
  "Active(file)",
  "Inactive(file)",
  "Unevictable",
  "SwapTotal",
  "SwapFree",
  "Dirty",
  "Writeback",
  "AnonPages",
  "Mapped",
  "Shmem",
  "Slab",
  "SReclaimable",
  "SUnreclaim",
  "KReclaimable",
]);

const hostText = host("meminfo.txt");
const keyOf = (l: string): string => l.slice(0, l.indexOf(":"));

test("a 256 MiB limit prints the kernel's exact lines", (t) => {
  const out = renderMeminfo(hostText, mem({ limitBytes: 256 * MiB }));
  t.is(line(out, "MemTotal"), "MemTotal:         262144 kB");
  t.is(line(out, "MemFree"), "MemFree:          108544 kB"); // 256 MiB − 150 MiB usage
  // free + active_file + inactive_file + SReclaimable = 108544 + 61440 + 40960 + 6144
  t.is(line(out, "MemAvailable"), "MemAvailable:     217088 kB");
  t.is(line(out, "Buffers"), "Buffers:               0 kB");
  t.is(line(out, "Cached"), "Cached:           102400 kB");
  t.is(line(out, "Active"), "Active:            92160 kB");
  t.is(line(out, "Inactive"), "Inactive:          51200 kB");
  t.is(line(out, "Active(anon)"), "Active(anon):      30720 kB");
  t.is(line(out, "Inactive(anon)"), "Inactive(anon):    10240 kB");
  t.is(line(out, "Active(file)"), "Active(file):      61440 kB");
  t.is(line(out, "Inactive(file)"), "Inactive(file):    40960 kB");
  t.is(line(out, "AnonPages"), "AnonPages:         40960 kB");
  t.is(line(out, "Mapped"), "Mapped:            12288 kB");
  t.is(line(out, "Shmem"), "Shmem:              4096 kB");
  t.is(line(out, "Slab"), "Slab:               8192 kB");
  t.is(line(out, "SReclaimable"), "SReclaimable:       6144 kB");
  t.is(line(out, "SUnreclaim"), "SUnreclaim:         2048 kB");
  t.is(line(out, "Dirty"), "Dirty:                64 kB");
});

test("passed-through lines are the host's byte for byte, in the host's order", (t) => {
  const out = renderMeminfo(hostText, mem({ limitBytes: 256 * MiB }));
  const hostLines = hostText.split("\n");
  const outLines = out.split("\n");
  t.is(outLines.length, hostLines.length);
  t.true(out.endsWith("kB\n"));
  for (let i = 0; i < hostLines.length; i++) {
    t.is(keyOf(outLines[i]!), keyOf(hostLines[i]!));
    if (!REPLACED.has(keyOf(hostLines[i]!))) t.is(outLines[i], hostLines[i]);
  }
  t.is(line(out, "HugePages_Total"), line(hostText, "HugePages_Total"));
  t.is(line(out, "VmallocTotal"), line(hostText, "VmallocTotal"));
});

test("replaced lines keep the host's layout: same width, number ending in the same column", (t) => {
  const out = renderMeminfo(hostText, mem({ limitBytes: 256 * MiB }));
  const hostLines = hostText.split("\n");
  const outLines = out.split("\n");
  let checked = 0;
  for (let i = 0; i < hostLines.length; i++) {
    if (!REPLACED.has(keyOf(hostLines[i]!))) continue;
    t.is(outLines[i]!.length, hostLines[i]!.length, hostLines[i]);
    t.regex(outLines[i]!, /^\S+:\s+\d+ kB$/);
    checked++;
  }
  t.is(checked, REPLACED.size);
});

test("no limit: MemTotal is the host's", (t) => {
  const out = renderMeminfo(hostText, mem());
  t.is(line(out, "MemTotal"), line(hostText, "MemTotal"));
  t.is(kb(out, "MemFree"), kb(hostText, "MemTotal") - 153600);
});

test("a limit above host memory shows the host's MemTotal", (t) => {
  const out = renderMeminfo(hostText, mem({ limitBytes: 1024 * GiB }));
  t.is(line(out, "MemTotal"), line(hostText, "MemTotal"));
});

test("a host number wider than the field: the kernel's 16-column label is recovered", (t) => {
  const big = host("meminfo-2tb.txt");
  t.is(line(renderMeminfo(big, mem()), "MemTotal"), "MemTotal:       2113929216 kB");
  t.is(line(renderMeminfo(big, mem({ limitBytes: 256 * MiB })), "MemTotal"), "MemTotal:         262144 kB");
});

test("a value wider than the field grows to the right after the label, as printf's would", (t) => {
  const big = host("meminfo-2tb.txt");
  const out = renderMeminfo(big, mem({ usageBytes: 1600 * GiB, stat: memStat({ fileBytes: 1536 * GiB }) }));
  t.is(line(out, "Cached"), "Cached:         1610612736 kB");
});

test("MemFree and MemAvailable never go below 0 or above MemTotal", (t) => {
  const over = renderMeminfo(hostText, mem({ limitBytes: 100 * MiB, usageBytes: 120 * MiB }));
  t.is(line(over, "MemFree"), "MemFree:               0 kB");
  t.true(kb(over, "MemAvailable") <= kb(over, "MemTotal"));
  t.true(kb(over, "Cached") <= kb(over, "MemTotal"));
  const idle = renderMeminfo(hostText, mem({ limitBytes: 100 * MiB, usageBytes: 0 }));
  t.is(kb(idle, "MemAvailable"), 102400);
});

test("host without swap: no swap whatever the cgroup says", (t) => {
  for (const swap of [null, { limitBytes: null, usageBytes: 0 }, { limitBytes: GiB, usageBytes: MiB }]) {
    const out = renderMeminfo(hostText, mem({ limitBytes: 256 * MiB, swap }));
    t.is(line(out, "SwapTotal"), "SwapTotal:             0 kB");
    t.is(line(out, "SwapFree"), "SwapFree:              0 kB");
  }
});

test("host with swap, no swap accounting: the host's swap only when memory is unlimited", (t) => {
  const swapHost = host("meminfo-swap.txt");
  const unlimited = renderMeminfo(swapHost, mem({ swap: null }));
  t.is(line(unlimited, "SwapTotal"), "SwapTotal:       2097148 kB");
  t.is(line(unlimited, "SwapFree"), "SwapFree:        1835004 kB");
  const limited = renderMeminfo(swapHost, mem({ limitBytes: 256 * MiB, swap: null }));
  t.is(line(limited, "SwapTotal"), "SwapTotal:             0 kB");
  t.is(line(limited, "SwapFree"), "SwapFree:              0 kB");
});

test("host with swap, cgroup swap limit: limit capped at the host's, minus usage", (t) => {
  const swapHost = host("meminfo-swap.txt");
  const out = renderMeminfo(swapHost, mem({ limitBytes: 256 * MiB, swap: { limitBytes: 512 * MiB, usageBytes: 100 * MiB } }));
  t.is(line(out, "SwapTotal"), "SwapTotal:        524288 kB");
  t.is(line(out, "SwapFree"), "SwapFree:         421888 kB");
  const uncapped = renderMeminfo(swapHost, mem({ limitBytes: 256 * MiB, swap: { limitBytes: null, usageBytes: 0 } }));
  t.is(line(uncapped, "SwapTotal"), "SwapTotal:       2097148 kB");
  t.is(line(uncapped, "SwapFree"), "SwapFree:        2097148 kB");
  const over = renderMeminfo(swapHost, mem({ swap: { limitBytes: 64 * GiB, usageBytes: 3 * GiB } }));
  t.is(line(over, "SwapTotal"), "SwapTotal:       2097148 kB");
  t.is(line(over, "SwapFree"), "SwapFree:              0 kB");
});

test("lines v2 accounts per cgroup come from memory.stat; where the kernel has none (null), the host's line stays", (t) => {
  const v2 = memStat({
    kernelStackBytes: 3 * MiB,
    pageTablesBytes: 5 * MiB,
    secPageTablesBytes: 0,
    percpuBytes: 208 * 1024,
    anonHugePagesBytes: 50 * MiB,
    shmemHugePagesBytes: 2 * MiB,
    fileHugePagesBytes: 34 * MiB,
    zswapBytes: 2 * MiB,
    zswappedBytes: 7 * MiB,
  });
  const out = renderMeminfo(hostText, mem({ limitBytes: 256 * MiB, stat: v2 }));
  t.is(line(out, "KernelStack"), "KernelStack:        3072 kB");
  t.is(line(out, "PageTables"), "PageTables:         5120 kB");
  t.is(line(out, "SecPageTables"), "SecPageTables:         0 kB");
  t.is(line(out, "Percpu"), "Percpu:              208 kB");
  t.is(line(out, "AnonHugePages"), "AnonHugePages:     51200 kB");
  t.is(line(out, "ShmemHugePages"), "ShmemHugePages:     2048 kB");
  t.is(line(out, "FileHugePages"), "FileHugePages:     34816 kB");
  t.is(line(out, "Zswap"), "Zswap:              2048 kB");
  t.is(line(out, "Zswapped"), "Zswapped:           7168 kB");
  t.is(line(out, "KReclaimable"), line(out, "SReclaimable").replace("SReclaimable", "KReclaimable"), "the cgroup's reclaimable slab");
  // v1: only rss_huge has a per-cgroup counterpart.
  const v1 = renderMeminfo(hostText, mem({ limitBytes: 256 * MiB, stat: memStat({ anonHugePagesBytes: 4 * MiB }) }));
  t.is(line(v1, "AnonHugePages"), "AnonHugePages:      4096 kB");
  for (const key of ["KernelStack", "PageTables", "SecPageTables", "Percpu", "ShmemHugePages", "FileHugePages", "Zswap", "Zswapped"])
    t.is(line(v1, key), line(hostText, key), `${key} stays the host's`);
});
