import test from "ava";
import type { CpuNumbers, CpuQuota } from "../../fuse/cgroup/types.js";
import { formatCpuList, visibleCpus } from "../../fuse/views/index.js";
import { parseCpuList } from "../../fuse/cgroup/cpu.js";

const cpu = (cpuset: number[], quota: CpuQuota | null): CpuNumbers => ({
  cpuset,
  quota,
  usage: { userNs: 0, systemNs: 0 },
  usagePerCpu: null,
});

test("parseCpuList reads the kernel's list syntax", (t) => {
  t.deepEqual(parseCpuList("0-3,5"), [0, 1, 2, 3, 5]);
  t.deepEqual(parseCpuList("0\n"), [0]);
  t.deepEqual(parseCpuList("1"), [1]);
  t.deepEqual(parseCpuList("\n"), []);
  t.deepEqual(parseCpuList("8-9,0-1,1"), [0, 1, 8, 9]);
  t.throws(() => parseCpuList("3-1"));
  t.throws(() => parseCpuList("a"));
  t.throws(() => parseCpuList("0,,1"));
});

test("formatCpuList prints runs as ranges, like %*pbl", (t) => {
  t.is(formatCpuList([0, 1, 2, 5]), "0-2,5");
  t.is(formatCpuList([0, 1]), "0-1");
  t.is(formatCpuList([3]), "3");
  t.is(formatCpuList([]), "");
  t.is(formatCpuList([0, 2, 4, 5, 6, 9]), "0,2,4-6,9");
  t.deepEqual(parseCpuList(formatCpuList([0, 2, 4, 5, 6, 9])), [0, 2, 4, 5, 6, 9]);
});

test("visibleCpus: the cpuset when no quota applies", (t) => {
  t.deepEqual(visibleCpus(cpu([0], null), { useQuota: true }), [0]);
  t.deepEqual(visibleCpus(cpu([0, 1], null), { useQuota: true }), [0, 1]);
  t.deepEqual(visibleCpus(cpu([1], null), { useQuota: true }), [1]);
  t.deepEqual(visibleCpus(cpu([0, 1, 2, 3], { quotaUs: 50000, periodUs: 100000 }), { useQuota: false }), [0, 1, 2, 3]);
});

test("visibleCpus: a quota keeps the first ceil(quota/period) CPUs of the cpuset", (t) => {
  const half = { quotaUs: 50000, periodUs: 100000 };
  const oneAndHalf = { quotaUs: 150000, periodUs: 100000 };
  t.deepEqual(visibleCpus(cpu([0, 1, 2, 3], half), { useQuota: true }), [0]);
  t.deepEqual(visibleCpus(cpu([0, 1, 2, 3], oneAndHalf), { useQuota: true }), [0, 1]);
  t.deepEqual(visibleCpus(cpu([2, 3, 5], oneAndHalf), { useQuota: true }), [2, 3]);
  t.deepEqual(visibleCpus(cpu([0, 1], { quotaUs: 200000, periodUs: 100000 }), { useQuota: true }), [0, 1]);
  t.deepEqual(visibleCpus(cpu([1], oneAndHalf), { useQuota: true }), [1]);
  t.deepEqual(visibleCpus(cpu([0, 1], { quotaUs: 1000, periodUs: 100000 }), { useQuota: true }), [0]);
  t.deepEqual(visibleCpus(cpu([0, 1], { quotaUs: 800000, periodUs: 100000 }), { useQuota: true }), [0, 1]);
});
