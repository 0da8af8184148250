// The C reader's modes and its Node driver (bench/reader.ts), outside any cgroup: output shapes
// only, never how fast.
import test from "ava";
import { execa } from "execa";
import { buildReader, TurnReader } from "../../bench/reader.js";
import { parseLatencyOutput, parseThroughputOutput } from "../../bench/stats.js";

test.serial("latency prints one figure per read; a missing file exits 1", async (t) => {
  const reader = await buildReader();
  const ok = await execa(reader, ["latency", "/proc/self/status", "5"]);
  t.is(parseLatencyOutput(String(ok.stdout)).length, 5);
  const missing = await execa(reader, ["latency", "/nonexistent/procview", "5"], { reject: false });
  t.is(missing.exitCode, 1);
  t.regex(String(missing.stderr), /No such file or directory/);
  const usage = await execa(reader, ["latency", "/proc/self/status"], { reject: false });
  t.is(usage.exitCode, 2);
});

test.serial("throughput prints reads, elapsed and errors", async (t) => {
  const reader = await buildReader();
  const r = parseThroughputOutput(String((await execa(reader, ["throughput", "/nonexistent/procview", "1"])).stdout));
  t.is(r.reads, 0);
  t.true(r.errors > 0);
  t.true(r.elapsedNs >= 1e9);
});

test.serial("a turn reader answers each path in order, errors as errno, and stops at EOF", async (t) => {
  const reader = TurnReader.start(await buildReader(), []);
  try {
    const first = await reader.read("/proc/meminfo");
    t.true("ns" in first && first.ns > 0);
    t.deepEqual(await reader.read("/nonexistent/procview"), { errno: 2 });
    const both = await Promise.all([reader.read("/proc/uptime"), reader.read("/nonexistent/x")]);
    t.true("ns" in both[0]);
    t.deepEqual(both[1], { errno: 2 });
  } finally {
    await reader.stop();
  }
  await t.throwsAsync(reader.read("/proc/meminfo"), { message: /exited/ });
});

test.serial("a turn reader that cannot join its cgroup fails its reads instead of hanging", async (t) => {
  const reader = TurnReader.start(await buildReader(), ["/nonexistent/cgroup.procs"]);
  await t.throwsAsync(reader.read("/proc/meminfo", 5000), { message: /exited \(97\)/ });
  await reader.stop();
});
