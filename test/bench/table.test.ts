// The report's table (bench/table.ts): rows, verdicts, "not measured" reasons, and the whole
// rendering against a golden file (test/bench/fixtures/report.md).
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { measured, notMeasured, type TakeoverResults } from "../../bench/results.js";
import { buildRows, formatCount, formatRatio, formatUs, renderReport, renderTable, tally, verdictText } from "../../bench/table.js";
import { sampleResults } from "./sample-results.js";
import { PACKAGE_ROOT } from "../../core/paths.js";

const GOLDEN = join(PACKAGE_ROOT, "test", "bench", "fixtures", "report.md");

test("number formats", (t) => {
  t.is(formatCount(1234567.4), "1,234,567");
  t.is(formatCount(999), "999");
  t.is(formatCount(-1500), "-1,500");
  t.is(formatCount(NaN), "—");
  t.is(formatUs(9.64), "9.6");
  t.is(formatUs(99.94), "99.9");
  t.is(formatUs(1234.4), "1,234");
  t.is(formatRatio(0.4), "0.40×");
  t.is(formatRatio(Infinity), "—");
});

test("latency rows: ratio of medians against 0.5×; a missing side says why", (t) => {
  const rows = buildRows(sampleResults());
  const meminfo = rows.find((r) => r.measure.includes("latency `proc/meminfo`"))!;
  t.is(meminfo.procview, "40.0 / 90.5");
  t.is(meminfo.ratio, "0.40×");
  t.is(meminfo.verdict, "met");
  t.is(rows.find((r) => r.measure.includes("latency `proc/loadavg`"))!.verdict, "missed");
  const swaps = rows.find((r) => r.measure.includes("latency `proc/swaps`"))!;
  t.deepEqual(swaps.verdict, { notMeasured: "lxcfs: lxcfs has exited" });
  t.is(verdictText(swaps.verdict), "not measured: lxcfs: lxcfs has exited");
});

test("latency rows of files beyond LXCFS's set: against the kernel's file, no target", (t) => {
  const vmstat = buildRows(sampleResults()).find((r) => r.measure.includes("latency `proc/vmstat`"))!;
  t.is(vmstat.procview, "50.0 / 110");
  t.is(vmstat.lxcfs, "—");
  t.is(vmstat.kernel, "10.0 / 20.0");
  t.is(vmstat.target, "— (beyond LXCFS's set; procview ÷ kernel 5.00×)");
  t.is(vmstat.verdict, "info");
});

test("throughput: 1 reader informs, 2 and 8 are judged", (t) => {
  const rows = buildRows(sampleResults()).filter((r) => r.measure.startsWith("throughput"));
  t.deepEqual(
    rows.map((r) => r.verdict),
    ["info", "met", "missed"],
  );
  // the kernel column failing does not matter to the verdict
  t.is(rows[2]!.kernel, "—");
});

test("scale rows come out in cgroup order, then the growth row judges procview", (t) => {
  const rows = buildRows(sampleResults());
  const scale = rows.filter((r) => r.measure.includes("reading in turn"));
  t.deepEqual(
    scale.map((r) => r.measure.match(/(\d+) cgroup/)![1]),
    ["1", "50", "500"],
  );
  const growth = rows.find((r) => r.measure.startsWith("per-read cost at 500"))!;
  t.is(growth.procview, "1.10×");
  t.is(growth.lxcfs, "1.15×");
  t.is(growth.verdict, "met");
});

test("a whole section that failed is one not-measured row", (t) => {
  const r = sampleResults();
  r.latency = notMeasured("reader: gcc not found");
  r.scale = notMeasured("cannot create cgroups");
  const rows = buildRows(r);
  t.deepEqual(
    rows.filter((x) => x.measure.startsWith("latency")).map((x) => x.verdict),
    [{ notMeasured: "reader: gcc not found" }],
  );
  t.deepEqual(
    rows.filter((x) => x.measure === "per-read cost with many cgroups").map((x) => x.verdict),
    [{ notMeasured: "cannot create cgroups" }],
  );
  t.is(rows.filter((x) => x.measure.includes("reading in turn")).length, 0);
  t.falsy(rows.find((x) => x.measure.startsWith("per-read cost at")));
});

test("memory, idle CPU and hook rows", (t) => {
  const rows = buildRows(sampleResults());
  const rss = rows.find((r) => r.measure.startsWith("resident memory"))!;
  t.is(rss.procview, "48.0 (40.0 at start)");
  t.is(rss.lxcfs, "3.3");
  t.is(rss.verdict, "info", "PSS is what is judged");
  const idle = rows.find((r) => r.measure.startsWith("CPU time while idle"))!;
  t.is(idle.procview, "10 ms (0.20 %)");
  t.is(idle.verdict, "met");
  const hook = rows.find((r) => r.measure.startsWith("hook"))!;
  t.deepEqual(hook.verdict, { notMeasured: "dist/procview-hook.mjs missing | run npm run build" });

  const r = sampleResults();
  r.hook = { ok: true, value: { runs: 20, withMedianMs: 420.4, withoutMedianMs: 380 } };
  const measuredHook = buildRows(r).find((x) => x.measure.startsWith("hook"))!;
  t.is(measuredHook.procview, "+40.4 ms (420 vs 380 ms)");
  t.regex(measuredHook.measure, /median of 20 runs each/);
  t.is(measuredHook.verdict, "met");

  r.hook = { ok: true, value: { runs: 20, withMedianMs: 200, withoutMedianMs: 175.5, nodeHookMedianMs: 283.5 } };
  t.is(
    buildRows(r).find((x) => x.measure.startsWith("hook"))!.procview,
    "+24.5 ms (200 vs 176 ms); the Node hook run directly (--no-client): +108.0 ms",
  );

  r.memoryDetail = {
    procview: { ok: true, value: { pssBytes: 100 * 1024 * 1024, pssAnonBytes: 0, pssFileBytes: 0, privateBytes: 60 * 1024 * 1024 } },
    lxcfs: { ok: false, why: "gone" },
  };
  const detail = buildRows(r).find((x) => x.measure.startsWith("memory after"))!;
  t.is(detail.procview, "100.0 / 60.0");
  t.is(detail.verdict, "missed", "judged on procview's PSS alone");
});

test("PSS per procview process, the keeper's RSS, and the takeover rows", (t) => {
  const rows = buildRows(sampleResults());
  const perProcess = rows.find((r) => r.measure.startsWith("PSS per procview process"))!;
  t.is(perProcess.procview, "keeper 0.3 (0.1 anon + 0.1 file); serving 40.0 (28.0 anon + 12.0 file); standby 19.8 (11.8 anon + 7.9 file)");
  const keeper = rows.find((r) => r.measure.startsWith("the keeper's resident memory"))!;
  t.is(keeper.procview, "1.8 (PSS 0.3)");
  t.is(keeper.verdict, "met");
  const kill = rows.find((r) => r.measure.startsWith("kill -9"))!;
  t.is(kill.procview, "42.5 ms (3 kills, 123,456 reads, 0 failed)");
  t.is(kill.kernel, "12.3 ms (nothing disrupted)");
  t.is(kill.verdict, "met");
  t.is(rows.find((r) => r.measure.startsWith("the same with `--no-standby`"))!.verdict, "info");
  const stop = rows.find((r) => r.measure.startsWith("serving process stopped"))!;
  t.regex(stop.measure, /watchdog deadline 500 ms/);
  t.is(stop.verdict, "met");

  const r = sampleResults();
  r.takeover = { ok: true, value: { ...(r.takeover as { ok: true; value: TakeoverResults }).value } };
  r.takeover.value.standby = { ok: true, value: { disruptions: 3, readers: 20, reads: 10, errors: 1, worstStallMs: 5 } };
  t.is(buildRows(r).find((x) => x.measure.startsWith("kill -9"))!.verdict, "missed", "a failed read misses whatever the stall");
  r.takeover = { ok: false, why: "no cgroups" };
  const none = buildRows(r).filter((x) => x.measure.includes("SIGSTOP") || x.measure.startsWith("kill -9"));
  t.deepEqual(
    none.map((x) => x.verdict),
    [{ notMeasured: "no cgroups" }],
  );
});

test("cells with a pipe are escaped; the table has one line per row plus two", (t) => {
  const rows = buildRows(sampleResults());
  const table = renderTable(rows);
  t.is(table.split("\n").length, rows.length + 2);
  for (const line of table.split("\n")) t.is(line.split(/(?<!\\)\|/).length, 9, line);
  t.deepEqual(tally(rows), { met: 8, missed: 2, notMeasured: 2 });
});

test("the whole report matches the golden file", (t) => {
  const report = renderReport(sampleResults());
  t.regex(report, /2 CPUs, kernel `6\.1\.0-test`/);
  t.regex(report, /date: 2025-01-02T03:04:05\.000Z/);
  t.is(report, readFileSync(GOLDEN, "utf8"));
});

test("per-container files: repeated reads judged against the kernel's median and LXCFS's p99, first reads against LXCFS, the 500-container runs inform", (t) => {
  const summary = (medianUs: number, p99Us: number) => measured({ medianUs, p99Us, count: 100 });
  const results = {
    ...sampleResults(),
    pageCache: {
      bound: measured([
        { file: "proc/meminfo", procview: summary(2, 5), lxcfs: summary(100, 400), kernel: summary(9, 12) },
        { file: "proc/stat", procview: summary(30, 500), lxcfs: summary(100, 400), kernel: summary(9, 12) },
      ]),
      firstRead: measured([
        { file: "proc/meminfo", gapMs: 200, procview: summary(300, 900), lxcfs: summary(500, 900), kernel: summary(40, 60) },
      ]),
      load: measured([
        {
          pattern: "monitor" as const,
          containers: 500,
          seconds: 20,
          reads: 120_000,
          errors: 0,
          procviewCpuMs: 4000,
          invalidationCpuMs: 200,
          treeCpuMs: 3000,
          fills: 100_000,
          invalidations: 101_000,
          ageMedianMs: 5,
          ageP99Ms: 60,
          ageMaxMs: 95,
          lxcfsCpuMs: 3000,
        },
      ]),
    },
  };
  const rows = buildRows(results);
  const bound = rows.filter((r) => r.measure.includes("the container's own file bound over it"));
  t.deepEqual(
    bound.map((r) => r.verdict),
    ["met", "missed"],
  );
  t.regex(bound[0]!.target, /here 0\.22×/);
  const first = rows.find((r) => r.measure.includes("first read after 200 ms"))!;
  t.is(first.ratio, "0.60×");
  t.is(first.verdict, "missed");
  const load = rows.filter((r) => r.measure.startsWith("500 containers"));
  t.is(load.length, 2);
  t.regex(load[0]!.procview, /^20\.00 % \(100,000 renderings, 101,000 invalidations, 120,000 reads, 0 failed\); 5 \/ 60 \/ 95 ms old$/);
  t.is(load[0]!.lxcfs, "15.00 %");
  t.is(load[1]!.procview, "1.00 % (15.00 %)");
});
