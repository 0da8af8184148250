// A fixed BenchResults for the table tests: every kind of row, one of each verdict.
import { measured, notMeasured, type BenchResults } from "../../bench/results.js";

const lat = (medianUs: number, p99Us: number) => measured({ count: 2000, medianUs, p99Us });

export function sampleResults(): BenchResults {
  return {
    meta: {
      cpus: 2,
      kernel: "6.1.0-test",
      date: "2025-01-02T03:04:05.000Z",
      mode: "full",
      node: "v20.0.0",
      lxcfsVersion: "5.0.3",
      settings: ["latency: 2000 timed reads"],
      durationSeconds: 123.4,
    },
    latency: measured([
      { file: "proc/meminfo", procview: lat(40, 90.54), lxcfs: lat(100, 250), kernel: lat(9.6, 12.2) },
      { file: "proc/loadavg", procview: lat(60, 120), lxcfs: lat(100, 1234.4), kernel: lat(4.2, 4.7) },
      { file: "proc/swaps", procview: lat(30, 60), lxcfs: notMeasured("lxcfs has exited"), kernel: lat(3.5, 4.8) },
      {
        file: "proc/vmstat",
        targeted: false,
        procview: lat(50, 110),
        lxcfs: notMeasured("lxcfs serves no proc/vmstat"),
        kernel: lat(10, 20),
      },
    ]),
    throughput: measured([
      { readers: 1, procview: measured(7656.4), lxcfs: measured(3209), kernel: measured(109172) },
      { readers: 2, procview: measured(23868), lxcfs: measured(6072), kernel: measured(218876) },
      { readers: 8, procview: measured(12000), lxcfs: measured(6733), kernel: notMeasured("timed out | stuck") },
    ]),
    scale: measured([
      { cgroups: 500, procview: lat(110, 300), lxcfs: lat(380, 650) },
      { cgroups: 1, procview: lat(100, 320), lxcfs: lat(330, 820) },
      { cgroups: 50, procview: lat(105, 310), lxcfs: lat(390, 570) },
    ]),
    rss: { procview: measured(48 * 1024 * 1024), lxcfs: measured(3.3 * 1024 * 1024) },
    rssAtStart: { procview: measured(40 * 1024 * 1024), lxcfs: notMeasured("lxcfs pid not found") },
    idle: { procview: measured({ cpuMs: 10, windowSeconds: 5 }), lxcfs: measured({ cpuMs: 0, windowSeconds: 5 }) },
    hook: notMeasured("dist/procview-hook.mjs missing | run npm run build"),
  };
}
