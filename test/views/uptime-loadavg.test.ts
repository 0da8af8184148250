import test from "ava";
import { containerUptime, renderLoadavg, renderUptime } from "../../fuse/views/index.js";

test("renderUptime: two decimals, truncated like the kernel", (t) => {
  t.is(renderUptime({ uptimeSeconds: 12.34, idleSeconds: 5.67 }), "12.34 5.67\n");
  t.is(renderUptime({ uptimeSeconds: 0.29, idleSeconds: 0.999 }), "0.29 0.99\n");
  t.is(renderUptime({ uptimeSeconds: 624.285, idleSeconds: 0 }), "624.28 0.00\n");
  t.is(renderUptime({ uptimeSeconds: 7, idleSeconds: 1.05 }), "7.00 1.05\n");
});

test("containerUptime: age of init; idle is the shown CPUs' time not spent by the cgroup", (t) => {
  const u = containerUptime({
    hostUptimeSeconds: 1000,
    initStartTicks: 40000,
    ticksPerSecond: 100,
    usage: { userNs: 150e9, systemNs: 50e9 },
    visibleCpuCount: 2,
  });
  t.deepEqual(u, { uptimeSeconds: 600, idleSeconds: 1000 });
  t.is(renderUptime(u), "600.00 1000.00\n");
});

test("containerUptime never goes negative", (t) => {
  const u = containerUptime({
    hostUptimeSeconds: 10,
    initStartTicks: 2000,
    ticksPerSecond: 100,
    usage: { userNs: 5e9, systemNs: 0 },
    visibleCpuCount: 1,
  });
  t.deepEqual(u, { uptimeSeconds: 0, idleSeconds: 0 });
});

test("renderLoadavg: the kernel's format", (t) => {
  const tasks = { running: 1, blocked: 0, total: 123, lastPid: 4567 };
  t.is(renderLoadavg({ load1: 0, load5: 0.01, load15: 0.05 }, tasks), "0.00 0.01 0.05 1/123 4567\n");
  t.is(renderLoadavg({ load1: 1.005, load5: 12.3449, load15: 0.289 }, tasks), "1.00 12.34 0.29 1/123 4567\n");
  t.is(renderLoadavg({ load1: 2.999, load5: 10, load15: 0 }, { ...tasks, running: 0 }), "3.00 10.00 0.00 0/123 4567\n");
});
