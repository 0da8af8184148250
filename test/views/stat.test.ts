import test from "ava";
import type { CpuTime } from "../../fuse/cgroup/types.js";
import { renderStat, type StatInput } from "../../fuse/views/index.js";
import { host, line } from "./fixtures.js";

const hostText = host("stat.txt");
const s = (seconds: number): number => Math.round(seconds * 1e9);
const time = (user: number, system: number): CpuTime => ({ userNs: s(user), systemNs: s(system) });

const input = (overrides: Partial<StatInput>): StatInput => ({
  visibleHostCpuIds: [0, 1],
  usage: time(1.5, 0.33),
  usagePerCpu: null,
  elapsedTicksPerCpu: 1000,
  ticksPerSecond: 100,
  tasks: { running: 1, blocked: 0, total: 10, lastPid: 42 },
  ...overrides,
});

const cpuLines = (text: string): string[] => text.split("\n").filter((l) => l.startsWith("cpu"));

test("no per-CPU usage: totals split evenly, the remainder on the first CPUs", (t) => {
  const out = renderStat(hostText, input({}));
  t.deepEqual(cpuLines(out), ["cpu  150 0 33 1817 0 0 0 0 0 0", "cpu0 75 0 17 908 0 0 0 0 0 0", "cpu1 75 0 16 909 0 0 0 0 0 0"]);
});

test("other lines are the host's, in the host's order; procs_* are the container's", (t) => {
  const out = renderStat(hostText, input({}));
  const hostLines = hostText.split("\n");
  const outLines = out.split("\n");
  t.is(outLines.length, hostLines.length);
  for (let i = 0; i < hostLines.length; i++) {
    const key = hostLines[i]!.split(" ")[0]!;
    t.is(outLines[i]!.split(" ")[0], key);
    if (["intr", "ctxt", "btime", "processes", "softirq", ""].includes(key)) t.is(outLines[i], hostLines[i]);
  }
  t.is(line(out, "procs_running", " "), "procs_running 1");
  t.is(line(out, "procs_blocked", " "), "procs_blocked 0");
});

test("without task numbers procs_* are the host's", (t) => {
  const out = renderStat(hostText, input({ tasks: null }));
  t.is(line(out, "procs_running", " "), line(hostText, "procs_running", " "));
  t.is(line(out, "procs_blocked", " "), line(hostText, "procs_blocked", " "));
});

test("cpuset 0 / quota cut to one CPU: one cpu line, the cut CPU's time folded onto it", (t) => {
  const usagePerCpu = new Map([
    [0, time(1, 0.2)],
    [1, time(0.5, 0.1)],
  ]);
  const out = renderStat(hostText, input({ visibleHostCpuIds: [0], usage: time(1.5, 0.3), usagePerCpu }));
  t.deepEqual(cpuLines(out), ["cpu  150 0 30 820 0 0 0 0 0 0", "cpu0 150 0 30 820 0 0 0 0 0 0"]);
});

test("cpuset 1: host CPU 1 shown as cpu0 with its own time", (t) => {
  const usagePerCpu = new Map([
    [0, time(0, 0)],
    [1, time(0.5, 0.1)],
  ]);
  const out = renderStat(hostText, input({ visibleHostCpuIds: [1], usage: time(0.5, 0.1), usagePerCpu }));
  t.deepEqual(cpuLines(out), ["cpu  50 0 10 940 0 0 0 0 0 0", "cpu0 50 0 10 940 0 0 0 0 0 0"]);
});

test("hidden CPUs are dealt round-robin onto the shown ones", (t) => {
  const usagePerCpu = new Map([
    [3, time(0.4, 0)],
    [2, time(0.3, 0)],
    [1, time(0.2, 0)],
    [0, time(0.1, 0)],
  ]);
  const out = renderStat(hostText, input({ visibleHostCpuIds: [1, 3], usage: time(1, 0), usagePerCpu }));
  // host 0 → shown 0 (host 1), host 2 → shown 1 (host 3)
  t.deepEqual(cpuLines(out), ["cpu  100 0 0 1900 0 0 0 0 0 0", "cpu0 30 0 0 970 0 0 0 0 0 0", "cpu1 70 0 0 930 0 0 0 0 0 0"]);
});

test("folding adds nanoseconds before truncating to ticks", (t) => {
  const usagePerCpu = new Map([
    [0, time(0.005, 0)],
    [1, time(0.005, 0)],
  ]);
  const out = renderStat(hostText, input({ visibleHostCpuIds: [0], usagePerCpu }));
  t.is(cpuLines(out)[1], "cpu0 1 0 0 999 0 0 0 0 0 0");
});

test("idle never goes below 0", (t) => {
  const out = renderStat(hostText, input({ visibleHostCpuIds: [0], usage: time(20, 5), elapsedTicksPerCpu: 1000.7 }));
  t.deepEqual(cpuLines(out), ["cpu  2000 0 500 0 0 0 0 0 0 0", "cpu0 2000 0 500 0 0 0 0 0 0 0"]);
});

test("the aggregate line sums the per-CPU lines, field by field", (t) => {
  const out = renderStat(hostText, input({ visibleHostCpuIds: [0, 1, 2], usage: time(12.34, 5.67), elapsedTicksPerCpu: 5000 }));
  const [agg, ...per] = cpuLines(out).map((l) => l.split(/ +/).slice(1).map(Number));
  t.is(per.length, 3);
  for (let f = 0; f < 10; f++)
    t.is(
      agg![f],
      per.reduce((sum, p) => sum + p[f]!, 0),
    );
  t.is(agg![0], 1234);
  t.is(agg![2], 567);
});
