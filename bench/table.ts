// The results as one markdown table, with each figure's target and verdict beside it. Pure.
import type { BenchResults, HookTiming, MemoryDetail, Outcome } from "./results.js";
import type { LatencySummary } from "./stats.js";
import { ratio } from "./stats.js";
import {
  HOOK_MAX_ADDED_MS,
  IDLE_CPU_MAX_SHARE,
  LATENCY_MAX_RATIO,
  RSS_MAX_BYTES,
  SCALE_MAX_GROWTH,
  THROUGHPUT_MIN_RATIO,
  THROUGHPUT_TARGET_READERS,
  hookVerdict,
  idleVerdict,
  latencyVerdict,
  rssVerdict,
  scaleVerdict,
  throughputVerdict,
  type Verdict,
} from "./targets.js";

export interface Row {
  measure: string;
  procview: string;
  lxcfs: string;
  kernel: string;
  ratio: string;
  target: string;
  verdict: Verdict;
}

const NONE = "—";
const MIB = 1024 * 1024;

/** Groups thousands with a thin comma, no locale involved: 12345.6 → "12,346". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return NONE;
  const s = String(Math.round(Math.abs(n)));
  return (n < 0 ? "-" : "") + s.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Microseconds: one decimal below 100, whole above. */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return NONE;
  return us < 100 ? us.toFixed(1) : formatCount(us);
}

export function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : NONE;
}

const latencyCell = (o: Outcome<LatencySummary>): string => (o.ok ? `${formatUs(o.value.medianUs)} / ${formatUs(o.value.p99Us)}` : NONE);
const value = <T>(o: Outcome<T>): T | undefined => (o.ok ? o.value : undefined);

/** The verdict of a comparison, or why it has none: the first missing side's reason. */
function judged(sides: Array<[string, Outcome<unknown>]>, verdict: () => Verdict): Verdict {
  for (const [name, o] of sides) if (!o.ok) return { notMeasured: `${name}: ${o.why}` };
  return verdict();
}

function sectionFailed<T>(o: Outcome<T[]>, measure: string): Row[] | undefined {
  if (o.ok) return undefined;
  return [{ measure, procview: NONE, lxcfs: NONE, kernel: NONE, ratio: NONE, target: NONE, verdict: { notMeasured: o.why } }];
}

export function buildRows(r: BenchResults): Row[] {
  const rows: Row[] = [];

  rows.push(
    ...(sectionFailed(r.latency, "latency, open+read+close") ??
      (r.latency.ok ? r.latency.value : []).map((l): Row => {
        const rt = ratio(value(l.procview)?.medianUs, value(l.lxcfs)?.medianUs);
        const figures = {
          measure: `latency \`${l.file}\` (µs, median / p99)`,
          procview: latencyCell(l.procview),
          lxcfs: latencyCell(l.lxcfs),
          kernel: latencyCell(l.kernel),
          ratio: formatRatio(rt),
        };
        if (l.targeted === false) {
          const overKernel = formatRatio(ratio(value(l.procview)?.medianUs, value(l.kernel)?.medianUs));
          return {
            ...figures,
            target: `— (beyond LXCFS's set; procview ÷ kernel ${overKernel})`,
            verdict: judged(
              [
                ["procview", l.procview],
                ["kernel", l.kernel],
              ],
              () => "info",
            ),
          };
        }
        return {
          ...figures,
          target: `median ≤ ${LATENCY_MAX_RATIO.toFixed(2)}× LXCFS`,
          verdict: judged(
            [
              ["procview", l.procview],
              ["lxcfs", l.lxcfs],
            ],
            () => latencyVerdict(rt),
          ),
        };
      })),
  );

  rows.push(
    ...(sectionFailed(r.throughput, "throughput") ??
      (r.throughput.ok ? r.throughput.value : []).map((t): Row => {
        const rt = ratio(value(t.procview), value(t.lxcfs));
        const targeted = THROUGHPUT_TARGET_READERS.includes(t.readers);
        return {
          measure: `throughput \`proc/meminfo\`, ${t.readers} reader${t.readers === 1 ? "" : "s"} in ${t.readers === 1 ? "a cgroup" : "different cgroups"} (reads/s)`,
          procview: t.procview.ok ? formatCount(t.procview.value) : NONE,
          lxcfs: t.lxcfs.ok ? formatCount(t.lxcfs.value) : NONE,
          kernel: t.kernel.ok ? formatCount(t.kernel.value) : NONE,
          ratio: formatRatio(rt),
          target: targeted ? `≥ ${THROUGHPUT_MIN_RATIO.toFixed(2)}× LXCFS` : NONE,
          verdict: judged(
            [
              ["procview", t.procview],
              ["lxcfs", t.lxcfs],
            ],
            () => throughputVerdict(t.readers, rt),
          ),
        };
      })),
  );

  const scaleFailed = sectionFailed(r.scale, "per-read cost with many cgroups");
  if (scaleFailed) rows.push(...scaleFailed);
  else if (r.scale.ok) {
    const scale = [...r.scale.value].sort((a, b) => a.cgroups - b.cgroups);
    for (const s of scale) {
      rows.push({
        measure: `\`proc/meminfo\` per read, ${s.cgroups} cgroup${s.cgroups === 1 ? "" : "s"} reading in turn (µs, median / p99)`,
        procview: latencyCell(s.procview),
        lxcfs: latencyCell(s.lxcfs),
        kernel: NONE,
        ratio: formatRatio(ratio(value(s.procview)?.medianUs, value(s.lxcfs)?.medianUs)),
        target: NONE,
        verdict: judged(
          [
            ["procview", s.procview],
            ["lxcfs", s.lxcfs],
          ],
          () => "info",
        ),
      });
    }
    const first = scale[0];
    const last = scale[scale.length - 1];
    if (first && last && last !== first) {
      const growth = (o1: Outcome<LatencySummary>, o2: Outcome<LatencySummary>) => ratio(value(o2)?.medianUs, value(o1)?.medianUs);
      const pv = growth(first.procview, last.procview);
      rows.push({
        measure: `per-read cost at ${last.cgroups} cgroups ÷ at ${first.cgroups} (median)`,
        procview: formatRatio(pv),
        lxcfs: formatRatio(growth(first.lxcfs, last.lxcfs)),
        kernel: NONE,
        ratio: NONE,
        target: `procview ≤ ${SCALE_MAX_GROWTH.toFixed(2)}×`,
        verdict: judged(
          [
            ["procview", first.procview],
            ["procview", last.procview],
          ],
          () => scaleVerdict(pv),
        ),
      });
    }
  }

  const mib = (o: Outcome<number>, atStart?: Outcome<number>) =>
    o.ok ? (o.value / MIB).toFixed(1) + (atStart?.ok ? ` (${(atStart.value / MIB).toFixed(1)} at start)` : "") : NONE;
  rows.push({
    measure: "resident memory (VmRSS, all serving processes) after the many-cgroup run (MiB)",
    procview: mib(r.rss.procview, r.rssAtStart?.procview),
    lxcfs: mib(r.rss.lxcfs, r.rssAtStart?.lxcfs),
    kernel: NONE,
    ratio: formatRatio(ratio(value(r.rss.procview), value(r.rss.lxcfs))),
    target: `procview ≤ ${RSS_MAX_BYTES / MIB} MiB`,
    verdict: judged([["procview", r.rss.procview]], () => rssVerdict(r.rss.procview.ok ? r.rss.procview.value : NaN)),
  });

  const detail = r.memoryDetail;
  if (detail) {
    const cell = (o: Outcome<MemoryDetail>) =>
      o.ok ? `${(o.value.pssBytes / MIB).toFixed(1)} / ${(o.value.privateBytes / MIB).toFixed(1)}` : NONE;
    rows.push({
      measure:
        "memory after the many-cgroup run, PSS / private (MiB; VmRSS counts the node binary's shared pages in each of procview's two processes)",
      procview: cell(detail.procview),
      lxcfs: cell(detail.lxcfs),
      kernel: NONE,
      ratio: NONE,
      target: "—",
      verdict: judged(
        [
          ["procview", detail.procview],
          ["lxcfs", detail.lxcfs],
        ],
        () => "info",
      ),
    });
  }

  const idleCell = (o: Outcome<{ cpuMs: number; windowSeconds: number }>) =>
    o.ok ? `${formatCount(o.value.cpuMs)} ms (${((o.value.cpuMs / (o.value.windowSeconds * 1000)) * 100).toFixed(2)} %)` : NONE;
  const idleWindow = r.idle.procview.ok
    ? r.idle.procview.value.windowSeconds
    : r.idle.lxcfs.ok
      ? r.idle.lxcfs.value.windowSeconds
      : undefined;
  rows.push({
    measure: `CPU time while idle${idleWindow !== undefined ? ` over ${idleWindow.toFixed(1)} s` : ""} (utime+stime; share of one CPU)`,
    procview: idleCell(r.idle.procview),
    lxcfs: idleCell(r.idle.lxcfs),
    kernel: NONE,
    ratio: NONE,
    target: `≈ 0 (≤ ${(IDLE_CPU_MAX_SHARE * 100).toFixed(0)} % of a CPU)`,
    verdict: judged([["procview", r.idle.procview]], () =>
      r.idle.procview.ok ? idleVerdict(r.idle.procview.value.cpuMs, r.idle.procview.value.windowSeconds) : "info",
    ),
  });

  const signed = (ms: number) => `${ms >= 0 ? "+" : ""}${ms.toFixed(1)}`;
  const nodeHookNote = (h: HookTiming) =>
    h.nodeHookMedianMs === undefined
      ? ""
      : `; the Node hook run directly (--no-client): ${signed(h.nodeHookMedianMs - h.withoutMedianMs)} ms`;
  const hook = r.hook;
  const added = hook.ok ? hook.value.withMedianMs - hook.value.withoutMedianMs : NaN;
  rows.push({
    measure: `hook: time added to \`podman run --rm … true\`${hook.ok ? ` (median of ${hook.value.runs} runs each)` : ""}`,
    procview: hook.ok
      ? `${signed(added)} ms (${hook.value.withMedianMs.toFixed(0)} vs ${hook.value.withoutMedianMs.toFixed(0)} ms)${nodeHookNote(hook.value)}`
      : NONE,
    lxcfs: NONE,
    kernel: NONE,
    ratio: NONE,
    target: `≤ ${HOOK_MAX_ADDED_MS} ms`,
    verdict: hook.ok ? hookVerdict(added) : { notMeasured: hook.why },
  });

  return rows;
}

export function verdictText(v: Verdict): string {
  if (typeof v === "object") return `not measured: ${v.notMeasured}`;
  return v === "met" ? "**met**" : v === "missed" ? "**missed**" : NONE;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

export function renderTable(rows: readonly Row[]): string {
  const header = ["measure", "procview", "LXCFS", "kernel", "procview/LXCFS", "target", "result"];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map((_, i) => (i === 0 || i >= 5 ? " --- " : " ---: ")).join("|")}|`];
  for (const r of rows) {
    lines.push(`| ${[r.measure, r.procview, r.lxcfs, r.kernel, r.ratio, r.target, verdictText(r.verdict)].map(cell).join(" | ")} |`);
  }
  return lines.join("\n");
}

export function tally(rows: readonly Row[]): { met: number; missed: number; notMeasured: number } {
  let met = 0;
  let missed = 0;
  let notMeasured = 0;
  for (const r of rows) {
    if (r.verdict === "met") met++;
    else if (r.verdict === "missed") missed++;
    else if (typeof r.verdict === "object") notMeasured++;
  }
  return { met, missed, notMeasured };
}

/** The whole report: machine facts, settings, the table, and the tally. */
export function renderReport(r: BenchResults): string {
  const rows = buildRows(r);
  const t = tally(rows);
  const m = r.meta;
  return [
    `# procview bench (${m.mode} run)`,
    "",
    `- date: ${m.date}`,
    `- machine: ${m.cpus} CPUs, kernel \`${m.kernel}\`, node ${m.node}, lxcfs ${m.lxcfsVersion}`,
    ...m.settings.map((s) => `- ${s}`),
    ...(m.durationSeconds !== undefined ? [`- whole run: ${m.durationSeconds.toFixed(0)} s`] : []),
    "",
    renderTable(rows),
    "",
    `Targets: ${t.met} met, ${t.missed} missed, ${t.notMeasured} not measured.`,
    "",
  ].join("\n");
}
