// Every fixture scenario, on the v1 (hybrid) and v2 trees: caller → container paths → numbers.
import test from "ava";
import { detectLayout } from "../../fuse/cgroup/layout.js";
import { resolveCaller } from "../../fuse/cgroup/caller.js";
import { readMemoryNumbers } from "../../fuse/cgroup/memory.js";
import { readCpuNumbers } from "../../fuse/cgroup/cpu.js";
import { readIoNumbers } from "../../fuse/cgroup/io.js";
import { readTaskNumbers } from "../../fuse/cgroup/tasks.js";
import { CONTROLLERS } from "../../fuse/cgroup/layout.js";
import { SELF_PID_NS, expectedFor, fixtureRoots, scenariosOf, type TreeName } from "../fixtures/index.js";

for (const tree of ["v1", "v2"] as TreeName[]) {
  const roots = fixtureRoots(tree);
  const layout = detectLayout(roots.cgroupRoot);

  for (const scenario of scenariosOf(tree)) {
    const e = expectedFor(scenario, tree);

    test(`${tree} ${scenario.name} (pid ${scenario.pid}): caller`, (t) => {
      const caller = resolveCaller(scenario.pid, { layout, procRoot: roots.procRoot });
      t.truthy(caller);
      if (!caller) return;
      t.is(caller.pidNs, e.pidNs);
      t.is(caller.sameNsAsSelf, e.sameNsAsSelf);
      t.is(caller.nsInitPid, e.nsInitPid);
      t.is(caller.nsInitStartTicks, e.nsInitStartTicks);
      for (const c of CONTROLLERS) {
        if (layout.mounts[c] === undefined) continue;
        t.is(caller.paths[c], e.container, `container path of ${c}`);
        t.is(caller.ownPaths[c], e.own, `own path of ${c}`);
      }
      t.is(caller.key, e.container);
      t.is(caller.isHost, e.isHost);
      // Injected self namespace gives the same answer as reading proc/self/ns/pid.
      t.deepEqual(resolveCaller(scenario.pid, { layout, procRoot: roots.procRoot, selfPidNs: SELF_PID_NS }), caller);
    });

    test(`${tree} ${scenario.name} (pid ${scenario.pid}): numbers`, (t) => {
      const caller = resolveCaller(scenario.pid, { layout, procRoot: roots.procRoot, selfPidNs: SELF_PID_NS });
      if (!caller) return t.fail("caller vanished");
      t.deepEqual(readMemoryNumbers(layout, caller.paths), e.memory);
      const cpu = readCpuNumbers(layout, caller.paths, roots.sysRoot);
      t.deepEqual(cpu?.cpuset, e.cpu.cpuset);
      t.deepEqual(cpu?.quota, e.cpu.quota);
      t.deepEqual(cpu?.usage, e.cpu.usage);
      t.deepEqual(cpu?.usagePerCpu, e.cpu.perCpuV1);
      t.deepEqual(readIoNumbers(layout, caller.paths), e.io);
      t.deepEqual(readTaskNumbers(layout, caller.paths, roots.procRoot), e.tasks);
    });
  }

  test(`${tree}: the sub-cgroup reader's own cgroup has its own, smaller usage`, (t) => {
    const caller = resolveCaller(3050, { layout, procRoot: roots.procRoot });
    if (!caller) return t.fail("caller vanished");
    t.is(readMemoryNumbers(layout, caller.ownPaths)?.usageBytes, 100 * 1024 * 1024);
    t.is(readMemoryNumbers(layout, caller.paths)?.usageBytes, 300 * 1024 * 1024);
  });

  test(`${tree}: a thread of a container process resolves like its process`, (t) => {
    const thread = resolveCaller(1001, { layout, procRoot: roots.procRoot });
    const leader = resolveCaller(1000, { layout, procRoot: roots.procRoot });
    t.is(thread?.key, leader?.key);
    t.is(thread?.nsInitPid, 1000);
  });

  test(`${tree}: a vanished pid resolves to null and numbers of a removed cgroup are null`, (t) => {
    t.is(resolveCaller(3052, { layout, procRoot: roots.procRoot }), null);
    t.is(resolveCaller(999999, { layout, procRoot: roots.procRoot }), null);
    const gone = Object.fromEntries(CONTROLLERS.map((c) => [c, "/no-such-ctr"])) as Record<(typeof CONTROLLERS)[number], string>;
    t.is(readMemoryNumbers(layout, gone), null);
    t.is(readCpuNumbers(layout, gone, roots.sysRoot), null);
    t.is(readIoNumbers(layout, gone), null);
    t.is(readTaskNumbers(layout, gone, roots.procRoot), null);
  });

  test(`${tree}: cpuset falls back to the host's online CPUs when no cpuset controller exists`, (t) => {
    const { cpuset: _dropped, ...mounts } = layout.mounts;
    const noCpuset = { ...layout, mounts };
    const caller = resolveCaller(1200, { layout, procRoot: roots.procRoot });
    if (!caller) return t.fail("caller vanished");
    t.deepEqual(readCpuNumbers(noCpuset, caller.paths, roots.sysRoot)?.cpuset, [0, 1]);
  });
}

test("layouts: v1 tree is hybrid with separate mounts, v2 tree is unified", (t) => {
  const v1 = detectLayout(fixtureRoots("v1").cgroupRoot);
  t.is(v1.mode, "hybrid");
  for (const c of CONTROLLERS) {
    t.is(v1.mounts[c]?.version, 1);
    t.true(v1.mounts[c]?.dir.endsWith(`/cgroup/${c}`));
  }
  const v2 = detectLayout(fixtureRoots("v2").cgroupRoot);
  t.is(v2.mode, "v2");
  for (const c of CONTROLLERS) t.deepEqual(v2.mounts[c], { dir: fixtureRoots("v2").cgroupRoot, version: 2 });
});
