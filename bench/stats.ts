// Pure arithmetic over the reader's figures: medians, percentiles, ratios, and
// the parsing of the C reader's and procfs's output. No I/O here.

/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} outside 0..100`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** The median: the mean of the two middle values for an even count; NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** a / b, or NaN when either is missing or b is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return NaN;
  return a / b;
}

export interface LatencySummary {
  count: number;
  medianUs: number;
  p99Us: number;
}

/** Nanosecond samples → median and p99 in microseconds. */
export function summarizeNs(samplesNs: readonly number[]): LatencySummary {
  return {
    count: samplesNs.length,
    medianUs: median(samplesNs) / 1000,
    p99Us: percentile(samplesNs, 99) / 1000,
  };
}

/** `reader latency` output: one non-negative integer (ns) per line. */
export function parseLatencyOutput(stdout: string): number[] {
  const out: number[] = [];
  for (const [i, raw] of stdout.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    if (!/^\d+$/.test(line)) throw new Error(`reader latency: line ${i + 1} is not a number: ${JSON.stringify(line)}`);
    out.push(Number(line));
  }
  return out;
}

export interface ThroughputSample {
  reads: number;
  elapsedNs: number;
  errors: number;
}

/** `reader throughput` output: "reads elapsed_ns errors". */
export function parseThroughputOutput(stdout: string): ThroughputSample {
  const m = /^\s*(\d+) (\d+) (\d+)\s*$/.exec(stdout);
  if (!m) throw new Error(`reader throughput: unexpected output ${JSON.stringify(stdout)}`);
  return { reads: Number(m[1]), elapsedNs: Number(m[2]), errors: Number(m[3]) };
}

/** Reads per second of readers running side by side: the sum of each one's own rate. */
export function combinedRate(samples: readonly ThroughputSample[]): number {
  let total = 0;
  for (const s of samples) {
    if (s.elapsedNs <= 0) throw new Error("reader throughput: elapsed time is zero");
    total += s.reads / (s.elapsedNs / 1e9);
  }
  return total;
}

/** One answer of `reader turns`: nanoseconds, or the errno of a failed read. */
export type TurnResult = { ns: number } | { errno: number };

export function parseTurnLine(line: string): TurnResult {
  const t = line.trim();
  if (/^\d+$/.test(t)) return { ns: Number(t) };
  const e = /^E (\d+)$/.exec(t);
  if (e) return { errno: Number(e[1]) };
  throw new Error(`reader turns: unexpected line ${JSON.stringify(line)}`);
}

/** VmRSS of a /proc/<pid>/status text, in bytes. */
export function parseVmRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error("no VmRSS line in /proc/<pid>/status");
  return Number(m[1]) * 1024;
}

/** Pss, its anonymous and file-backed parts, and private (Private_Clean + Private_Dirty, the
 * "unique set") of a /proc/<pid>/smaps_rollup text, in bytes. */
export function parseSmapsRollup(text: string): { pssBytes: number; pssAnonBytes: number; pssFileBytes: number; privateBytes: number } {
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, "m").exec(text);
    if (!m) throw new Error(`no ${key} line in /proc/<pid>/smaps_rollup`);
    return Number(m[1]) * 1024;
  };
  return {
    pssBytes: kb("Pss"),
    pssAnonBytes: kb("Pss_Anon"),
    pssFileBytes: kb("Pss_File"),
    privateBytes: kb("Private_Clean") + kb("Private_Dirty"),
  };
}

export interface LoopSample {
  reads: number;
  errors: number;
  /** The longest single open+read+close. */
  longestNs: number;
}

/** `reader loop` output: "reads errors longest_ns". */
export function parseLoopOutput(stdout: string): LoopSample {
  const m = /^\s*(\d+) (\d+) (\d+)\s*$/.exec(stdout);
  if (!m) throw new Error(`reader loop: unexpected output ${JSON.stringify(stdout)}`);
  return { reads: Number(m[1]), errors: Number(m[2]), longestNs: Number(m[3]) };
}

/**
 * utime + stime (clock ticks) from a /proc/<pid>/stat line. The command name (field 2) is in
 * parentheses and may hold spaces and parentheses itself, so fields are counted after the last ")".
 */
export function parseCpuTicks(stat: string): number {
  const close = stat.lastIndexOf(")");
  if (close < 0) throw new Error("malformed /proc/<pid>/stat: no ')'");
  // After ")": field 3 (state) is index 0, so utime (field 14) is index 11 and stime (15) index 12.
  const rest = stat
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error("malformed /proc/<pid>/stat: no utime/stime");
  return utime + stime;
}
