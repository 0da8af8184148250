// Every served view, for every fixture scenario on the v1 (hybrid) and v2 trees, through the live
// server's path: createRenderer (caller resolution → cgroup numbers → view) over the fixture
// roots, asserting the text a reader would see against numbers worked out here.
import test, { type ExecutionContext } from "ava";
import type { ViewRenderer } from "../../fuse/server/render.js";
import { expectedFor, scenariosOf, type Expected, type Scenario, type TreeName } from "../fixtures/index.js";
import {
  MEMINFO_PASSTHROUGH,
  TREES,
  ageTicks,
  cpuLines,
  cpuRange,
  cpuinfoBlocks,
  expectedCpuinfoBlock,
  expectedMeminfo,
  expectedVisible,
  fmtHundredths,
  golden,
  hostText,
  hundredths,
  lineStarting,
  meminfoLine,
  meminfoLineOf,
  meminfoValues,
  readAs,
  rendererFor,
  ticks,
  type HostText,
} from "./expect.js";
import { VIEW_NAMES, type ViewName } from "../../core/layout.js";
import { checkPressure, checkSlabinfo, checkVmstat } from "./kernel-stats.js";
import type { PressureResourceName } from "../fixtures/spec.js";

const PRESSURE_OF = { "pressure-cpu": "cpu", "pressure-memory": "memory", "pressure-io": "io" } as const satisfies Record<
  string,
  PressureResourceName
>;

interface Ctx {
  tree: TreeName;
  scenario: Scenario;
  e: Expected;
  host: HostText;
  render: ViewRenderer;
  useQuota: boolean;
}

const CPU_VIEWS: ViewName[] = ["cpuinfo", "stat", "uptime", "cpu-online", "cpu-possible", "cpu-present"];

const HOST_FILE: Record<ViewName, (h: HostText) => string> = {
  meminfo: (h) => h.meminfo,
  cpuinfo: (h) => h.cpuinfo,
  stat: (h) => h.stat,
  uptime: (h) => h.uptime,
  loadavg: (h) => h.loadavg,
  diskstats: (h) => h.diskstats,
  swaps: (h) => h.swaps,
  "cpu-online": (h) => h.cpuOnline,
  "cpu-possible": (h) => h.cpuOnline,
  "cpu-present": (h) => h.cpuOnline,
  "cpu-offline": () => "\n",
  "pressure-cpu": (h) => h.pressure.cpu,
  "pressure-memory": (h) => h.pressure.memory,
  "pressure-io": (h) => h.pressure.io,
  vmstat: (h) => h.vmstat,
  slabinfo: (h) => h.slabinfo,
};

function checkMeminfo(t: ExecutionContext, c: Ctx, text: string): void {
  const hostValues = meminfoValues(c.host.meminfo);
  const x = expectedMeminfo(c.e, hostValues);
  const hostLines = c.host.meminfo.split("\n");
  const lines = text.split("\n");
  t.is(lines.length, hostLines.length, "same number of lines as the host");
  t.deepEqual(
    lines.map((l) => l.split(":")[0]),
    hostLines.map((l) => l.split(":")[0]),
    "same keys in the host's order",
  );
  t.is(text.endsWith("\n"), c.host.meminfo.endsWith("\n"), "final newline as the host's");

  const line = (key: string) => meminfoLineOf(text, key);
  t.is(line("MemTotal"), meminfoLine("MemTotal", x.memTotal));
  if (c.e.memory.limitBytes === null || c.e.memory.limitBytes / 1024 >= hostValues.get("MemTotal")!) {
    t.is(line("MemTotal"), meminfoLineOf(c.host.meminfo, "MemTotal"), "no limit / limit above host: the host's MemTotal");
  }
  t.is(line("MemFree"), meminfoLine("MemFree", x.memFree));
  t.is(line("MemAvailable"), meminfoLine("MemAvailable", x.memAvailable));
  const got = meminfoValues(text);
  t.true(got.get("MemFree")! <= got.get("MemTotal")!, "MemFree ≤ MemTotal");
  t.true(got.get("MemAvailable")! <= got.get("MemTotal")!, "MemAvailable ≤ MemTotal");
  t.true(got.get("MemAvailable")! >= got.get("MemFree")!, "MemAvailable ≥ MemFree");
  t.is(line("SwapTotal"), meminfoLine("SwapTotal", x.swapTotal));
  t.is(line("SwapFree"), meminfoLine("SwapFree", x.swapFree));
  t.true(got.get("SwapFree")! <= got.get("SwapTotal")!, "SwapFree ≤ SwapTotal");
  for (const [key, value] of Object.entries(x.fromStat)) t.is(line(key), meminfoLine(key, value), key);

  for (const key of MEMINFO_PASSTHROUGH) {
    const hostLine = meminfoLineOf(c.host.meminfo, key);
    t.truthy(hostLine, `host has ${key}`);
    t.is(line(key), hostLine, `${key} is the host's, byte for byte`);
  }
  // Every line the container has no number for is the host's.
  const replaced = new Set(["MemTotal", "MemFree", "MemAvailable", "SwapTotal", "SwapFree", ...Object.keys(x.fromStat)]);
  hostLines.forEach((hostLine, i) => {
    if (!replaced.has(hostLine.split(":")[0]!)) t.is(lines[i], hostLine, `line ${i + 1} passes through`);
  });
}

function checkCpuinfo(t: ExecutionContext, c: Ctx, text: string): void {
  const visible = expectedVisible(c.e, c.useQuota);
  const processors = text.split("\n").filter((l) => /^processor\s*:/.test(l));
  t.is(processors.length, visible.length, `${visible.length} processor lines`);
  t.deepEqual(
    processors.map((l) => Number(/(\d+)$/.exec(l)![1])),
    visible.map((_, i) => i),
    "renumbered from 0",
  );
  const hostBlocks = cpuinfoBlocks(c.host.cpuinfo);
  const expected = visible.map((id, i) => expectedCpuinfoBlock(hostBlocks.get(id)!, i, visible.length).join("\n") + "\n\n").join("");
  t.is(text, expected, `blocks of host CPUs ${visible.join(",")}`);
  // The identity lines of each block are those of the host CPU it shows.
  visible.forEach((hostId, i) => {
    const block = text.split("\n\n")[i]!;
    for (const key of ["apicid", "core id", "initial apicid"]) {
      const want = hostBlocks.get(hostId)!.find((l) => l.startsWith(`${key}\t`));
      t.is(
        block.split("\n").find((l) => l.startsWith(`${key}\t`)),
        want,
        `processor ${i}'s ${key} is host CPU ${hostId}'s`,
      );
    }
  });
}

function checkStat(t: ExecutionContext, c: Ctx, text: string): void {
  const visible = expectedVisible(c.e, c.useQuota);
  const n = visible.length;
  const all = cpuLines(text);
  t.deepEqual(
    all.map((l) => l.label),
    ["cpu", ...visible.map((_, i) => `cpu${i}`)],
    "aggregate line and one line per visible CPU",
  );
  t.truthy(lineStarting(text, "cpu  "), "aggregate label padded like the kernel's (`cpu  `)");
  const [agg, ...per] = all;
  for (const l of all) t.is(l.cols.length, 10, `${l.label} has 10 columns`);
  const sum = agg!.cols.map((_, k) => per.reduce((s, l) => s + l.cols[k]!, 0));
  t.deepEqual(agg!.cols, sum, "aggregate = sum of per-CPU columns");

  const userTicks = ticks(c.e.cpu.usage.userNs);
  const systemTicks = ticks(c.e.cpu.usage.systemNs);
  t.is(agg!.cols[0], userTicks, "user ticks");
  t.is(agg!.cols[2], systemTicks, "system ticks");
  for (const l of all) for (const k of [1, 4, 5, 6, 7, 8, 9]) t.is(l.cols[k], 0, `${l.label} column ${k} is 0`);

  const perCpu = c.e.cpu.perCpuV1;
  if (perCpu !== null && [...perCpu].every(([id, u]) => visible.includes(id) || u.userNs + u.systemNs === 0)) {
    // v1 reports per-CPU time: each line is its host CPU's.
    visible.forEach((id, i) => {
      const u = perCpu.get(id) ?? { userNs: 0, systemNs: 0 };
      t.is(per[i]!.cols[0], ticks(u.userNs), `cpu${i} user = host CPU ${id}'s`);
      t.is(per[i]!.cols[2], ticks(u.systemNs), `cpu${i} system = host CPU ${id}'s`);
    });
  } else if (perCpu === null) {
    // Totals only: spread evenly.
    for (const l of per) {
      t.true(Math.abs(l.cols[0]! - userTicks / n) < 1, `${l.label} user is an even share`);
      t.true(Math.abs(l.cols[2]! - systemTicks / n) < 1, `${l.label} system is an even share`);
    }
  }
  // idle: the container's age less what the CPU ran.
  const age = ageTicks(c.host.uptime, c.e);
  for (const l of per) t.is(l.cols[3], Math.max(0, age - l.cols[0]! - l.cols[2]!), `${l.label} idle = age − user − system`);

  for (const key of ["intr ", "ctxt ", "btime ", "processes ", "softirq "]) {
    t.is(lineStarting(text, key), lineStarting(c.host.stat, key), `${key.trim()} is the host's`);
  }
  t.is(lineStarting(text, "procs_running "), `procs_running ${c.e.tasks.running}`);
  t.is(lineStarting(text, "procs_blocked "), `procs_blocked ${c.e.tasks.blocked}`);
  const hostCpuCount = cpuLines(c.host.stat).length - 1;
  t.is(text.split("\n").length, c.host.stat.split("\n").length - hostCpuCount + n, "no other line added or lost");
  t.is(text.endsWith("\n"), c.host.stat.endsWith("\n"));
}

function checkUptime(t: ExecutionContext, c: Ctx, text: string): void {
  const n = expectedVisible(c.e, c.useQuota).length;
  const m = /^(\d+\.\d\d) (\d+\.\d\d)\n$/.exec(text);
  t.truthy(m, `"uptime idle\\n" with two decimals: ${JSON.stringify(text)}`);
  if (!m) return;
  const age = ageTicks(c.host.uptime, c.e);
  t.is(m[1], fmtHundredths(age), `host uptime ${c.host.uptime.split(" ")[0]} − init start ${c.e.nsInitStartTicks} ticks`);
  const idle = hundredths(m[2]!);
  t.true(idle <= age * n, "idle ≤ uptime × visible CPUs");
  const busy = (c.e.cpu.usage.userNs + c.e.cpu.usage.systemNs) / 1e7;
  const want = Math.max(0, age * n - busy);
  t.true(Math.abs(idle - want) <= 1, `idle ${idle} ≈ ${want} hundredths (uptime × ${n} − CPU time)`);
}

function checkSwaps(t: ExecutionContext, c: Ctx, text: string): void {
  const meminfo = meminfoValues(readAs(c.render, "meminfo", c.scenario.pid));
  const x = expectedMeminfo(c.e, meminfoValues(c.host.meminfo));
  const header = c.host.swaps.split("\n")[0]!;
  const lines = text.split("\n");
  t.is(lines[0], header, "the host's header");
  if (x.swapTotal === 0) {
    t.is(text, header + "\n", "header only: no swap shown");
    t.is(meminfo.get("SwapTotal"), 0);
    return;
  }
  t.is(lines.length, 3, "header, one row, final newline");
  t.is(lines[2], "");
  const row = lines[1]!;
  t.true(row.startsWith("none".padEnd(40) + "virtual\t"), `row name padded to 40 columns: ${JSON.stringify(row)}`);
  const cols = row.trim().split(/\s+/);
  t.deepEqual(cols, ["none", "virtual", String(x.swapTotal), String(x.swapTotal - x.swapFree), "0"]);
  t.is(meminfo.get("SwapTotal"), Number(cols[2]), "Size = meminfo SwapTotal");
  t.is(Number(cols[3]), meminfo.get("SwapTotal")! - meminfo.get("SwapFree")!, "Used = meminfo SwapTotal − SwapFree");
}

function check(view: ViewName, t: ExecutionContext, c: Ctx): void {
  const text = readAs(c.render, view, c.scenario.pid);
  if (c.e.isHost) {
    t.is(text, HOST_FILE[view](c.host), "host reader: the host's file, byte for byte");
    return;
  }
  const n = expectedVisible(c.e, c.useQuota).length;
  switch (view) {
    case "meminfo":
      return checkMeminfo(t, c, text);
    case "cpuinfo":
      return checkCpuinfo(t, c, text);
    case "stat":
      return checkStat(t, c, text);
    case "uptime":
      return checkUptime(t, c, text);
    case "loadavg":
      // Never sampled yet: zeros, with the container's tasks.
      t.is(text, `0.00 0.00 0.00 ${c.e.tasks.running}/${c.e.tasks.total} ${c.e.tasks.lastPid}\n`);
      return;
    case "diskstats":
      t.is(text, golden(view, c.tree, c.scenario.name, text), `devices ${c.e.io.map((d) => `${d.major}:${d.minor}`).join(" ") || "none"}`);
      return;
    case "swaps":
      return checkSwaps(t, c, text);
    case "cpu-online":
    case "cpu-possible":
    case "cpu-present":
      t.is(text, cpuRange(n));
      return;
    case "cpu-offline":
      t.is(text, "\n");
      return;
    case "pressure-cpu":
    case "pressure-memory":
    case "pressure-io":
      return checkPressure(t, c.e, c.host, PRESSURE_OF[view], text);
    case "vmstat":
      return checkVmstat(t, c.e, c.tree, c.host, text);
    case "slabinfo":
      return checkSlabinfo(t, c.e, c.host, text);
  }
}

for (const tree of TREES) {
  const host = hostText(tree);
  const withQuota = rendererFor(tree, true);
  const withoutQuota = rendererFor(tree, false);
  for (const scenario of scenariosOf(tree)) {
    const e = expectedFor(scenario, tree);
    for (const view of VIEW_NAMES) {
      test(`${tree} ${scenario.name}: ${view}`, (t) => check(view, t, { tree, scenario, e, host, render: withQuota, useQuota: true }));
    }
    for (const view of CPU_VIEWS) {
      test(`${tree} ${scenario.name} (useCpuQuota off): ${view}`, (t) =>
        check(view, t, { tree, scenario, e, host, render: withoutQuota, useQuota: false }));
    }
  }
}
