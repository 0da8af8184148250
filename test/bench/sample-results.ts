// A fixed BenchResults for the table tests: every kind of row, one of each verdict.
import { measured, notMeasured, type BenchResults } from "../../bench/results.js";

const MiB = 1024 * 1024;
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
    memoryDetail: {
      procview: measured({ pssBytes: 60 * MiB, pssAnonBytes: 40 * MiB, pssFileBytes: 20 * MiB, privateBytes: 45 * MiB }),
      lxcfs: measured({ pssBytes: 1.9 * MiB, pssAnonBytes: 0.3 * MiB, pssFileBytes: 1.6 * MiB, privateBytes: 1.7 * MiB }),
    },
    processMemory: measured([
      {
        role: "keeper",
        pid: 10,
        pssBytes: 0.25 * MiB,
        pssAnonBytes: 0.15 * MiB,
        pssFileBytes: 0.1 * MiB,
        privateBytes: 0.2 * MiB,
        rssBytes: 1.8 * MiB,
      },
      {
        role: "serving",
        pid: 11,
        pssBytes: 40 * MiB,
        pssAnonBytes: 28 * MiB,
        pssFileBytes: 12 * MiB,
        privateBytes: 30 * MiB,
        rssBytes: 60 * MiB,
      },
      {
        role: "standby",
        pid: 12,
        pssBytes: 19.75 * MiB,
        pssAnonBytes: 11.85 * MiB,
        pssFileBytes: 7.9 * MiB,
        privateBytes: 14.8 * MiB,
        rssBytes: 40 * MiB,
      },
    ]),
    takeover: measured({
      standby: measured({ disruptions: 3, readers: 20, reads: 123456, errors: 0, worstStallMs: 42.5 }),
      coldStart: measured({ disruptions: 3, readers: 20, reads: 65432, errors: 0, worstStallMs: 812 }),
      watchdog: measured({ disruptions: 1, readers: 20, reads: 54321, errors: 0, worstStallMs: 655, deadlineMs: 500 }),
      baseline: measured({ disruptions: 0, readers: 20, reads: 999999, errors: 0, worstStallMs: 12.25 }),
    }),
    hook: notMeasured("dist/procview-hook.mjs missing | run npm run build"),
  };
}
