// The cgroup side of pressure, vmstat and slabinfo: parsers, and the readers on the fixture trees.
import test from "ava";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTROLLERS, detectLayout } from "../../fuse/cgroup/layout.js";
import { keyOf, resolveCaller, type CgroupPaths } from "../../fuse/cgroup/caller.js";
import { parsePressure, readPressureNumbers } from "../../fuse/cgroup/pressure.js";
import { normalizeV1MemoryStat, normalizeV2MemoryStat, readVmstatNumbers } from "../../fuse/cgroup/vmstat.js";
import { readKmemSlabinfo } from "../../fuse/cgroup/slabinfo.js";
import { CgroupReadError } from "../../fuse/cgroup/read.js";
import { SELF_PID_NS, expectedFor, fixtureRoots, scenariosOf, type TreeName } from "../fixtures/index.js";

test("parsePressure: some and full lines, averages in hundredths, total in µs", (t) => {
  const p = parsePressure(
    "some avg10=12.34 avg60=0.05 avg300=100.00 total=123456789\nfull avg10=0.00 avg60=1.20 avg300=0.00 total=42\n",
    "x",
  );
  t.deepEqual(p, {
    some: { avg10Hundredths: 1234, avg60Hundredths: 5, avg300Hundredths: 10000, totalUs: 123456789 },
    full: { avg10Hundredths: 0, avg60Hundredths: 120, avg300Hundredths: 0, totalUs: 42 },
  });
  // cpu.pressure before 5.13: "some" only.
  t.is(parsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "x").full, null);
  t.throws(() => parsePressure("some avg10=1 avg60=0.00 avg300=0.00 total=0\n", "/sys/x/cpu.pressure"), {
    instanceOf: CgroupReadError,
    message: /\/sys\/x\/cpu.pressure: not a pressure line/,
  });
  t.throws(() => parsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "x"), { message: /no "some" line/ });
});

test("memory.stat for vmstat: v1's total_* under cgroup2's names, v1's pgpgin/pgpgout (charge events) left out", (t) => {
  const v1 = normalizeV1MemoryStat(
    "cache 100\nrss 200\nrss_huge 0\nmapped_file 30\ndirty 4\nwriteback 5\npgpgin 7\npgpgout 6\npgfault 10\nworkingset_refault_file 3\n" +
      "hierarchical_memory_limit 9223372036854771712\n" +
      "total_cache 1000\ntotal_rss 2000\ntotal_rss_huge 2097152\ntotal_mapped_file 300\ntotal_dirty 40\ntotal_writeback 50\n" +
      "total_pgpgin 70\ntotal_pgpgout 60\ntotal_pgfault 100\ntotal_workingset_refault_file 30\n",
  );
  t.deepEqual(
    [...v1],
    [
      ["file", 1000],
      ["anon", 2000],
      ["anon_thp", 2097152],
      ["file_mapped", 300],
      ["file_dirty", 40],
      ["file_writeback", 50],
      ["pgfault", 100],
      ["workingset_refault_file", 30],
    ],
  );
  const v2 = normalizeV2MemoryStat("anon 1\nfile 2\npgfault 3\npswpin 4\n");
  t.deepEqual(
    [...v2],
    [
      ["anon", 1],
      ["file", 2],
      ["pgfault", 3],
      ["pswpin", 4],
    ],
  );
});

test("keyOf: the cgroup2 path joins the key only where it differs from the controllers' path", (t) => {
  const same = Object.fromEntries(CONTROLLERS.map((c) => [c, "/a"])) as CgroupPaths;
  t.is(keyOf(same), "/a");
  t.is(keyOf(same, "/a"), "/a");
  t.not(keyOf(same, "/b"), "/a");
  t.not(keyOf(same, null), "/a");
  t.not(keyOf(same, "/b"), keyOf(same, null));
  t.not(keyOf(same, "/b"), keyOf(same, "/c"));
  t.true(keyOf(same, "/b").startsWith("["));
});

for (const tree of ["v1", "v2"] as TreeName[]) {
  const roots = fixtureRoots(tree);
  const layout = detectLayout(roots.cgroupRoot);

  for (const scenario of scenariosOf(tree)) {
    const e = expectedFor(scenario, tree);
    test(`${tree} ${scenario.name}: cgroup2 path by the container rule; pressure, vmstat and slabinfo numbers`, (t) => {
      const caller = resolveCaller(scenario.pid, { layout, procRoot: roots.procRoot, selfPidNs: SELF_PID_NS });
      if (!caller) return t.fail("caller vanished");
      t.is(caller.unified, e.container, "the container's cgroup2 cgroup (the ns init's for a reader in a sub-cgroup)");
      t.is(caller.key, e.container);
      for (const resource of ["cpu", "memory", "io"] as const) {
        const p = readPressureNumbers(layout, caller.unified, resource);
        // A host reader is handed the host's own file; here its own cgroup2 cgroup's, unless that is the root.
        const want = e.container === "/" ? null : e.pressure?.[resource];
        if (!want) t.is(p, null, `${resource}: nothing of its own`);
        else
          t.deepEqual(p, {
            some: {
              avg10Hundredths: want.some.avg10,
              avg60Hundredths: want.some.avg60,
              avg300Hundredths: want.some.avg300,
              totalUs: want.some.totalUs,
            },
            full: {
              avg10Hundredths: want.full.avg10,
              avg60Hundredths: want.full.avg60,
              avg300Hundredths: want.full.avg300,
              totalUs: want.full.totalUs,
            },
          });
      }
      const vm = readVmstatNumbers(layout, caller.paths);
      if (!vm) return t.fail("no vmstat numbers");
      t.is(vm.memoryStat.get("pgfault"), e.memoryEvents.pgfault);
      t.is(vm.memoryStat.get("pgmajfault"), e.memoryEvents.pgmajfault);
      t.false(vm.memoryStat.has("pgpgin"));
      t.is(vm.memoryStat.get("file"), e.memory.stat.fileBytes);
      t.is(vm.memoryStat.get("pswpin"), tree === "v2" ? e.memoryEvents.pswpin : undefined);
      // The v2 root has no memory.events; the v1 root's memory is the host's own.
      t.is(vm.oomKills, tree === "v2" && e.container === "/" ? null : e.memoryEvents.oomKill);
      t.is(readKmemSlabinfo(layout, caller.paths), e.container === "/" ? null : e.kmemSlabinfo);
    });
  }
}

test("no cgroup2 hierarchy, or a reader outside it: no pressure of its own", (t) => {
  const root = mkdtempSync(join(tmpdir(), "procview-psi-"));
  try {
    mkdirSync(join(root, "memory/ctr"), { recursive: true });
    writeFileSync(join(root, "memory/ctr/memory.stat"), "cache 0\n");
    const v1Only = detectLayout(root);
    t.is(v1Only.unifiedDir, null);
    t.is(readPressureNumbers(v1Only, "/ctr", "memory"), null);
    mkdirSync(join(root, "unified/ctr"), { recursive: true });
    writeFileSync(join(root, "unified/cgroup.controllers"), "");
    writeFileSync(join(root, "unified/memory.pressure"), "some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n");
    const hybrid = detectLayout(root);
    t.is(readPressureNumbers(hybrid, null, "memory"), null, "not in the cgroup2 hierarchy");
    t.is(readPressureNumbers(hybrid, "/", "memory"), null, "its root: the host's file says the same");
    t.is(readPressureNumbers(hybrid, "/ctr", "memory"), null, "PSI not kept for the cgroup: never an ancestor's");
    t.is(readPressureNumbers(hybrid, "/gone", "memory"), null, "a cgroup that is gone");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
