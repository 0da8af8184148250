// Tenant isolation on every read path: two tenants in real cgroups with different limits read the
// same files at the same time, through read, readv, pread from many threads on one descriptor,
// splice and mmap, on the top-level files (one inode for everyone). No reader may ever get a byte
// rendered for the other. (containers/<id>/ holds one container's view whoever reads it:
// page-cache.live.test.ts.)
import test from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProcview, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, runInCgroup, type TestCgroup } from "../../testbed/cgroups.js";
import { countIn, restAfter } from "../support/reader-output.js";
import { compileTestProgram } from "../support/c-program.js";

const MiB = 1024 * 1024;
const SECONDS = 10;

let service: RunningProcview;
let reader = "";
const groups: TestCgroup[] = [];

test.before(async () => {
  reader = join(mkdtempSync(join(tmpdir(), "procview-isolation-")), "isolation-reader");
  await compileTestProgram("isolation-reader.c", reader, ["-pthread"]);
  service = await startProcview();
});
test.after.always(async () => {
  await service?.stop();
  for (const group of groups) await group.remove();
});

interface ReaderResult {
  reads: number;
  foreign: number;
  foreignBytes: number;
  refused: number;
  errors: number;
  firstProblem: string;
}

function parseReader(line: string): ReaderResult {
  const field = (name: string): number => countIn(line, name);
  return {
    reads: field("reads"),
    foreign: field("foreign"),
    foreignBytes: field("foreign_bytes"),
    refused: field("refused"),
    errors: field("errors"),
    firstProblem: restAfter(line, "first_problem"),
  };
}

interface Tenant {
  name: string;
  group: TestCgroup;
  memTotalKb: number;
  cpus: number;
}

function tenant(name: string, memoryMiB: number, cpus: string): Tenant {
  const group = createCgroup({ memoryLimitBytes: memoryMiB * MiB, cpus });
  groups.push(group);
  return { name, group, memTotalKb: memoryMiB * 1024, cpus: cpus === "0" ? 1 : 2 };
}

const MODES: [mode: string, threads: number][] = [
  ["read", 1],
  ["readv", 1],
  ["pread", 4],
  ["sendfile", 1],
  ["mmap", 1],
  ["mmap-shared", 1],
];

test("no reader ever gets another tenant's bytes, on any read path, on the top-level files", async (t) => {
  const tenants = [tenant("A", 200, "0"), tenant("B", 75, "0-1")];
  const runs: { label: string; mode: string; result: Promise<ReaderResult> }[] = [];
  for (const [mode, threads] of MODES) {
    for (const who of tenants) {
      const file = (name: string) => join(service.mountPoint, `proc/${name}`);
      const argv = [
        reader,
        mode,
        String(SECONDS),
        file("meminfo"),
        String(who.memTotalKb),
        file("cpuinfo"),
        String(who.cpus),
        String(threads),
      ];
      const label = `${who.name} ${mode}`;
      runs.push({
        label,
        mode,
        result: runInCgroup(who.group.procsFiles(), argv, { timeoutMs: (SECONDS + 60) * 1000 }).then(parseReader),
      });
    }
  }
  const results = await Promise.all(runs.map((r) => r.result));
  const reads = results.reduce((sum, r) => sum + r.reads, 0);
  for (const [i, run] of runs.entries()) {
    const r = results[i]!;
    t.log(`${run.label}: ${r.reads} reads, ${r.foreignBytes} foreign bytes, ${r.refused} refused, ${r.errors} errors`);
  }
  t.log(`${reads} reads in all`);
  for (const [i, run] of runs.entries()) {
    const r = results[i]!;
    t.is(r.foreignBytes, 0, `${run.label}: ${r.foreign} reads with another tenant's bytes, first: ${r.firstProblem}`);
    t.is(r.errors, 0, `${run.label}: ${r.firstProblem}`);
    // The paths that would go through the inode's shared page cache are refused, every time.
    if (run.mode === "sendfile") t.true(r.refused > 0 && r.refused === r.reads, `${run.label}: ${r.refused} of ${r.reads} refused`);
    if (run.mode.startsWith("mmap")) t.true(r.refused > 0 && r.reads === 0, `${run.label}: ${r.refused} refused, ${r.reads} mapped`);
  }
  t.true(reads >= 50_000, `only ${reads} reads`);
});

test("a container without block I/O sees every device of the host's /proc/diskstats, in order, at zero", async (t) => {
  const fresh = createCgroup({ memoryLimitBytes: 128 * MiB });
  groups.push(fresh);
  const seen = await runInCgroup(fresh.procsFiles(), ["cat", join(service.mountPoint, "proc/diskstats")]);
  const hostLines = readFileSync("/proc/diskstats", "utf8").trimEnd().split("\n");
  const lines = seen.split("\n");
  const head = (line: string) => /^\s*\d+\s+\d+\s+\S+/.exec(line)![0];
  t.deepEqual(lines.map(head), hostLines.map(head));
  for (const [i, line] of lines.entries()) {
    const fields = line.slice(head(line).length).trim().split(" ");
    t.is(fields.length, hostLines[i]!.slice(head(hostLines[i]!).length).trim().split(/\s+/).length);
    t.true(
      fields.every((f) => f === "0"),
      line,
    );
  }
});
