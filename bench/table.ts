// The results as one markdown table, with each figure's target and verdict beside it. Pure.
import type { BenchResults, HookTiming, MemoryDetail, Outcome, ProcessMemory, StallRun } from "./results.js";
import type { LatencySummary } from "./stats.js";
import { ratio } from "./stats.js";
import {
  BOUND_MAX_OVER_KERNEL,
  FIRST_READ_MAX_RATIO,
  HOOK_MAX_ADDED_MS,
  IDLE_CPU_MAX_SHARE,
  KEEPER_RSS_MAX_BYTES,
  LATENCY_MAX_RATIO,
  PSS_MAX_BYTES,
  SCALE_MAX_GROWTH,
  TAKEOVER_MAX_STALL_MS,
  WATCHDOG_MAX_OVERRUN_MS,
  THROUGHPUT_MIN_RATIO,
  THROUGHPUT_TARGET_READERS,
  boundVerdict,
  firstReadVerdict,
  hookVerdict,
  idleVerdict,
  keeperRssVerdict,
  latencyVerdict,
  pssVerdict,
  scaleVerdict,
  takeoverVerdict,
  throughputVerdict,
  watchdogVerdict,
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

  rows.push(...pageCacheRows(r));

  rows.push(...memoryRows(r));

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

  rows.push(...takeoverRows(r));

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

const mib = (bytes: number): string => (bytes / MIB).toFixed(1);

function memoryRows(r: BenchResults): Row[] {
  const rows: Row[] = [];
  const rssCell = (o: Outcome<number>, atStart?: Outcome<number>) =>
    o.ok ? mib(o.value) + (atStart?.ok ? ` (${mib(atStart.value)} at start)` : "") : NONE;
  rows.push({
    measure: "resident memory (VmRSS, all processes) after the many-cgroup run (MiB; counts shared pages once per process)",
    procview: rssCell(r.rss.procview, r.rssAtStart?.procview),
    lxcfs: rssCell(r.rss.lxcfs, r.rssAtStart?.lxcfs),
    kernel: NONE,
    ratio: formatRatio(ratio(value(r.rss.procview), value(r.rss.lxcfs))),
    target: NONE,
    verdict: judged([["procview", r.rss.procview]], () => "info"),
  });

  const detail = r.memoryDetail;
  if (detail) {
    const cell = (o: Outcome<MemoryDetail>) => (o.ok ? `${mib(o.value.pssBytes)} / ${mib(o.value.privateBytes)}` : NONE);
    rows.push({
      measure: "memory after the many-cgroup run, PSS / private, all processes (MiB)",
      procview: cell(detail.procview),
      lxcfs: cell(detail.lxcfs),
      kernel: NONE,
      ratio: formatRatio(ratio(value(detail.procview)?.pssBytes, value(detail.lxcfs)?.pssBytes)),
      target: `procview PSS ≤ ${PSS_MAX_BYTES / MIB} MiB`,
      verdict: judged([["procview", detail.procview]], () => pssVerdict(detail.procview.ok ? detail.procview.value.pssBytes : NaN)),
    });
  }

  const processes = r.processMemory;
  if (processes) {
    const each = (p: ProcessMemory) => `${p.role} ${mib(p.pssBytes)} (${mib(p.pssAnonBytes)} anon + ${mib(p.pssFileBytes)} file)`;
    rows.push({
      measure: "PSS per procview process after the many-cgroup run (MiB: anonymous memory + mapped files such as the node binary)",
      procview: processes.ok ? processes.value.map(each).join("; ") : NONE,
      lxcfs: NONE,
      kernel: NONE,
      ratio: NONE,
      target: NONE,
      verdict: processes.ok ? "info" : { notMeasured: processes.why },
    });
    const keeper = processes.ok ? processes.value.find((p) => p.role === "keeper") : undefined;
    rows.push({
      measure: "the keeper's resident memory (VmRSS, MiB; its PSS beside it)",
      procview: keeper ? `${mib(keeper.rssBytes)} (PSS ${mib(keeper.pssBytes)})` : NONE,
      lxcfs: NONE,
      kernel: NONE,
      ratio: NONE,
      target: `≤ ${KEEPER_RSS_MAX_BYTES / MIB} MiB`,
      verdict: keeper ? keeperRssVerdict(keeper.rssBytes) : { notMeasured: processes.ok ? "no keeper found" : processes.why },
    });
  }
  return rows;
}

function pageCacheRows(r: BenchResults): Row[] {
  const p = r.pageCache;
  if (!p) return [];
  const rows: Row[] = [];
  rows.push(
    ...(sectionFailed(p.bound, "containers/<id>/ files through a bind, repeated reads") ??
      (p.bound.ok ? p.bound.value : []).map((b): Row => {
        const overKernel = ratio(value(b.procview)?.medianUs, value(b.kernel)?.medianUs);
        return {
          measure: `\`${b.file}\`: the container's own file bound over it, repeated reads (µs, median / p99)`,
          procview: latencyCell(b.procview),
          lxcfs: latencyCell(b.lxcfs),
          kernel: latencyCell(b.kernel),
          ratio: formatRatio(ratio(value(b.procview)?.medianUs, value(b.lxcfs)?.medianUs)),
          target: `median ≤ ${BOUND_MAX_OVER_KERNEL}× kernel (here ${formatRatio(overKernel)}), p99 ≤ LXCFS's`,
          verdict: judged(
            [
              ["procview", b.procview],
              ["lxcfs", b.lxcfs],
              ["kernel", b.kernel],
            ],
            () => boundVerdict(overKernel, value(b.procview)!.p99Us, value(b.lxcfs)!.p99Us),
          ),
        };
      })),
  );
  rows.push(
    ...(sectionFailed(p.firstRead, "first read of a container's file after it was dropped") ??
      (p.firstRead.ok ? p.firstRead.value : []).map((f): Row => {
        const rt = ratio(value(f.procview)?.medianUs, value(f.lxcfs)?.medianUs);
        return {
          measure: `\`${f.file}\` through the bind, first read after ${f.gapMs} ms without reads (the kernel dropped it; µs, median / p99)`,
          procview: latencyCell(f.procview),
          lxcfs: latencyCell(f.lxcfs),
          kernel: latencyCell(f.kernel),
          ratio: formatRatio(rt),
          target: `median ≤ ${FIRST_READ_MAX_RATIO.toFixed(2)}× LXCFS`,
          verdict: judged(
            [
              ["procview", f.procview],
              ["lxcfs", f.lxcfs],
            ],
            () => firstReadVerdict(rt),
          ),
        };
      })),
  );
  const load = p.load;
  if (!load.ok) {
    rows.push({
      measure: "500 containers read once a second",
      procview: NONE,
      lxcfs: NONE,
      kernel: NONE,
      ratio: NONE,
      target: NONE,
      verdict: { notMeasured: load.why },
    });
    return rows;
  }
  const share = (ms: number, seconds: number) => `${((ms / (seconds * 1000)) * 100).toFixed(2)} %`;
  for (const run of load.value) {
    const what =
      run.pattern === "monitor"
        ? `${run.containers} containers, each read by a monitor (every bound file and pressure, vmstat: open, read, close once a second)`
        : `${run.containers} containers, each read as \`top -d 1\` does (stat, meminfo, uptime, loadavg kept open, read again every second)`;
    rows.push({
      measure: `${what}: CPU of all procview processes (share of one CPU); how old the numbers read were (ms, median / p99 / max)`,
      procview:
        `${share(run.procviewCpuMs, run.seconds)} (${formatCount(run.fills)} renderings, ${formatCount(run.invalidations)} invalidations, ` +
        `${formatCount(run.reads)} reads, ${formatCount(run.errors)} failed); ${run.ageMedianMs.toFixed(0)} / ${run.ageP99Ms.toFixed(0)} / ${run.ageMaxMs.toFixed(0)} ms old`,
      lxcfs: run.lxcfsCpuMs === undefined ? NONE : share(run.lxcfsCpuMs, run.seconds),
      kernel: NONE,
      ratio: run.lxcfsCpuMs === undefined ? NONE : formatRatio(ratio(run.procviewCpuMs, run.lxcfsCpuMs)),
      target: "no failed read",
      verdict: run.errors === 0 ? "info" : "missed",
    });
    rows.push({
      measure: `${what}: CPU of the invalidation thread (and of the per-container tree's serving thread)`,
      procview: `${share(run.invalidationCpuMs, run.seconds)} (${share(run.treeCpuMs, run.seconds)})`,
      lxcfs: NONE,
      kernel: NONE,
      ratio: NONE,
      target: NONE,
      verdict: "info",
    });
  }
  return rows;
}

function takeoverRows(r: BenchResults): Row[] {
  const t = r.takeover;
  if (!t) return [];
  const run = (o: Outcome<StallRun>, what: string) =>
    o.ok
      ? `${formatUs(o.value.worstStallMs)} ms (${o.value.disruptions} ${what}, ${formatCount(o.value.reads)} reads, ${formatCount(o.value.errors)} failed)`
      : NONE;
  const failed = (o: Outcome<StallRun>): Verdict | undefined =>
    !o.ok ? { notMeasured: o.why } : o.value.errors > 0 ? "missed" : undefined;
  if (!t.ok) {
    return [
      {
        measure: "kill -9 / SIGSTOP of the serving process",
        procview: NONE,
        lxcfs: NONE,
        kernel: NONE,
        ratio: NONE,
        target: NONE,
        verdict: { notMeasured: t.why },
      },
    ];
  }
  const { standby, coldStart, watchdog, baseline } = t.value;
  const machine = baseline.ok ? `${formatUs(baseline.value.worstStallMs)} ms (nothing disrupted)` : NONE;
  return [
    {
      measure: "kill -9 of the serving process under 20 readers: longest read (ms); a standby takes over",
      procview: run(standby, "kills"),
      lxcfs: NONE,
      kernel: machine,
      ratio: NONE,
      target: `≤ ${TAKEOVER_MAX_STALL_MS} ms, no failed read`,
      verdict: failed(standby) ?? (standby.ok ? takeoverVerdict(standby.value.worstStallMs) : "info"),
    },
    {
      measure: "the same with `--no-standby` (a serving process started when the other dies)",
      procview: run(coldStart, "kills"),
      lxcfs: NONE,
      kernel: machine,
      ratio: NONE,
      target: NONE,
      verdict: failed(coldStart) ?? "info",
    },
    {
      measure: `serving process stopped (SIGSTOP) under 20 readers: longest read (ms)${watchdog.ok ? `; watchdog deadline ${watchdog.value.deadlineMs} ms` : ""}`,
      procview: run(watchdog, "stop"),
      lxcfs: NONE,
      kernel: machine,
      ratio: NONE,
      target: `≤ deadline + ${WATCHDOG_MAX_OVERRUN_MS} ms, no failed read`,
      verdict: failed(watchdog) ?? (watchdog.ok ? watchdogVerdict(watchdog.value.worstStallMs, watchdog.value.deadlineMs) : "info"),
    },
  ];
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
