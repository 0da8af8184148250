// The targets' boundaries (bench/targets.ts): on the limit counts as met.
import test from "ava";
import {
  hookVerdict,
  idleVerdict,
  keeperRssVerdict,
  latencyVerdict,
  pssVerdict,
  scaleVerdict,
  takeoverVerdict,
  throughputVerdict,
  watchdogVerdict,
} from "../../bench/targets.js";

test("latency: procview median ≤ 0.5 × LXCFS", (t) => {
  t.is(latencyVerdict(0.5), "met");
  t.is(latencyVerdict(0.2), "met");
  t.is(latencyVerdict(0.51), "missed");
  t.deepEqual(latencyVerdict(NaN), { notMeasured: "no figure" });
});

test("throughput: ≥ 2 × LXCFS at 2 and 8 readers; 1 reader is for information", (t) => {
  t.is(throughputVerdict(2, 2), "met");
  t.is(throughputVerdict(8, 1.99), "missed");
  t.is(throughputVerdict(1, 0.1), "info");
  t.is(throughputVerdict(1, 5), "info");
});

test("scale, memory, idle CPU and hook limits", (t) => {
  t.is(scaleVerdict(1.2), "met");
  t.is(scaleVerdict(1.21), "missed");
  t.is(pssVerdict(64 * 1024 * 1024), "met");
  t.is(pssVerdict(64 * 1024 * 1024 + 1), "missed");
  t.is(keeperRssVerdict(2 * 1024 * 1024), "met");
  t.is(keeperRssVerdict(2 * 1024 * 1024 + 1), "missed");
  t.is(idleVerdict(50, 5), "met"); // 1 % of a CPU
  t.is(idleVerdict(60, 5), "missed");
  t.is(idleVerdict(0, 5), "met");
  t.is(hookVerdict(60), "met");
  t.is(hookVerdict(-3), "met");
  t.is(hookVerdict(60.5), "missed");
  t.deepEqual(hookVerdict(NaN), { notMeasured: "no figure" });
});

test("takeover and watchdog limits", (t) => {
  t.is(takeoverVerdict(100), "met");
  t.is(takeoverVerdict(100.1), "missed");
  t.is(watchdogVerdict(1500, 500), "met");
  t.is(watchdogVerdict(1501, 500), "missed");
});
