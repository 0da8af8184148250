// The bench's arithmetic and parsers (bench/stats.ts). No timing here: figures are checked by the bench's table.
import test from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  combinedRate,
  median,
  parseCpuTicks,
  parseLatencyOutput,
  parseThroughputOutput,
  parseTurnLine,
  parseSmapsRollup,
  parseLoopOutput,
  parseVmRssBytes,
  percentile,
  ratio,
  summarizeNs,
} from "../../bench/stats.js";
import { PACKAGE_ROOT } from "../../core/paths.js";

const fixture = (name: string) => readFileSync(join(PACKAGE_ROOT, "test", "bench", "fixtures", name), "utf8");
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

test("median of odd and even counts, unsorted input left alone", (t) => {
  const input = [5, 1, 3];
  t.is(median(input), 3);
  t.deepEqual(input, [5, 1, 3]);
  t.is(median([4, 1, 3, 2]), 2.5);
  t.is(median([7]), 7);
  t.true(Number.isNaN(median([])));
});

test("percentile is nearest-rank", (t) => {
  t.is(percentile(range(100), 99), 99);
  t.is(percentile(range(2000), 99), 1980);
  t.is(percentile(range(10), 99), 10);
  t.is(percentile(range(10), 50), 5);
  t.is(percentile([3, 1, 2], 0), 1);
  t.is(percentile([3, 1, 2], 100), 3);
  t.true(Number.isNaN(percentile([], 99)));
  t.throws(() => percentile([1], 101), { instanceOf: RangeError });
});

test("ratio refuses missing or non-positive denominators", (t) => {
  t.is(ratio(1, 4), 0.25);
  t.true(Number.isNaN(ratio(1, 0)));
  t.true(Number.isNaN(ratio(undefined, 2)));
  t.true(Number.isNaN(ratio(2, undefined)));
  t.true(Number.isNaN(ratio(NaN, 2)));
});

test("summarizeNs turns nanoseconds into microseconds", (t) => {
  const s = summarizeNs(range(100).map((i) => i * 1000));
  t.deepEqual(s, { count: 100, medianUs: 50.5, p99Us: 99 });
});

test("reader latency output: one figure a line, blank lines ignored, anything else refused", (t) => {
  t.deepEqual(parseLatencyOutput(fixture("latency.txt")), [10500, 9800, 12000]);
  t.deepEqual(parseLatencyOutput(""), []);
  t.throws(() => parseLatencyOutput("12\nreader: /x: No such file\n"), { message: /line 2/ });
  t.throws(() => parseLatencyOutput("-5\n"));
});

test("reader throughput output and the combined rate of side-by-side readers", (t) => {
  const a = parseThroughputOutput("111062 1000007379 0\n");
  t.deepEqual(a, { reads: 111062, elapsedNs: 1000007379, errors: 0 });
  t.throws(() => parseThroughputOutput("111062 1000007379\n"));
  t.throws(() => parseThroughputOutput(""));
  const rate = combinedRate([
    { reads: 3000, elapsedNs: 3e9, errors: 0 },
    { reads: 1500, elapsedNs: 1.5e9, errors: 0 },
  ]);
  t.is(rate, 2000);
  t.is(combinedRate([]), 0);
  t.throws(() => combinedRate([{ reads: 1, elapsedNs: 0, errors: 0 }]));
});

test("reader turns lines: nanoseconds or an errno", (t) => {
  t.deepEqual(parseTurnLine("34191"), { ns: 34191 });
  t.deepEqual(parseTurnLine("E 107\n"), { errno: 107 });
  t.throws(() => parseTurnLine("E"));
  t.throws(() => parseTurnLine("usage: reader ..."));
});

test("reader loop output: reads, errors and the longest read", (t) => {
  t.deepEqual(parseLoopOutput("1200 0 40700852\n"), { reads: 1200, errors: 0, longestNs: 40700852 });
  t.throws(() => parseLoopOutput("1200 0\n"), { message: /reader loop/ });
});

test("VmRSS from /proc/<pid>/status, in bytes", (t) => {
  t.is(parseVmRssBytes(fixture("status.txt")), 65536 * 1024);
  t.throws(() => parseVmRssBytes("Name:\tkthreadd\nState:\tS (sleeping)\n"), { message: /VmRSS/ });
});

test("PSS and private memory from /proc/<pid>/smaps_rollup, in bytes", (t) => {
  t.deepEqual(parseSmapsRollup(fixture("smaps_rollup.txt")), {
    pssBytes: 459 * 1024,
    pssAnonBytes: 112 * 1024,
    pssFileBytes: 347 * 1024,
    privateBytes: (40 + 112) * 1024,
  });
  t.throws(() => parseSmapsRollup("Rss: 1 kB\n"), { message: /Pss/ });
});

test("utime + stime from /proc/<pid>/stat, even when the name holds spaces and parentheses", (t) => {
  t.is(parseCpuTicks(fixture("stat.txt")), 1234 + 567);
  t.throws(() => parseCpuTicks("4242 node S"));
  t.throws(() => parseCpuTicks("4242 (node) S 1 2"));
});
