// Every fixture scenario, on the v1 (hybrid) and v2 trees: caller → container paths → numbers.
import test from "ava";
import { detectLayout } from "../../fuse/cgroup/layout.js";
import { resolveCaller } from "../../fuse/cgroup/caller.js";
import { readMemoryNumbers } from "../../fuse/cgroup/memory.js";
import { readCpuNumbers } from "../../fuse/cgroup/cpu.js";
import { readIoNumbers } from "../../fuse/cgroup/io.js";
import { readTaskNumbers } from "../../fuse/cgroup/tasks.js";
import { CONTROLLERS } from "../../fuse/cgroup/layout.js";
import { FIXTURES_DIR, SELF_PID_NS, expectedFor, fixtureRoots, scenariosOf, type TreeName } from "../fixtures/index.js";
import { HOST_CGROUP_NS, PODMAN_CTR } from "../fixtures/spec.js";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

// Shapes made from a copy of the v2 tree, each changed in one way.
{
  const scratch = mkdtempSync(join(tmpdir(), "procview-v2-shapes-"));
  test.after.always(() => rmSync(scratch, { recursive: true, force: true }));
  let copies = 0;
  const copy = (change: (roots: ReturnType<typeof fixtureRoots>) => void) => {
    const dir = join(scratch, String(copies++));
    cpSync(join(FIXTURES_DIR, "v2"), dir, { recursive: true, verbatimSymlinks: true });
    const roots = { cgroupRoot: join(dir, "cgroup"), procRoot: join(dir, "proc"), sysRoot: join(dir, "sys") };
    change(roots);
    return { roots, layout: detectLayout(roots.cgroupRoot) };
  };

  test("v2: a --pid=host container that shares procview's cgroup namespace too is a host process", (t) => {
    const { roots, layout } = copy(({ procRoot }) => {
      rmSync(join(procRoot, "5000/ns/cgroup"));
      symlinkSync(HOST_CGROUP_NS, join(procRoot, "5000/ns/cgroup"));
    });
    const caller = resolveCaller(5000, { layout, procRoot: roots.procRoot });
    t.is(caller?.paths.memory, "/ctr-hostpid");
    t.true(caller?.isHost);
  });

  test("v2: a reader whose cgroup lies outside procview's cgroup namespace is nobody procview can name", (t) => {
    const { roots, layout } = copy(({ procRoot }) => writeFileSync(join(procRoot, "1200/cgroup"), "0::/../../machine.slice/elsewhere\n"));
    t.is(resolveCaller(1200, { layout, procRoot: roots.procRoot }), null);
  });

  test("v2: ' (deleted)' on an exiting process's path: the removed cgroup's path, read as gone", (t) => {
    const { roots, layout } = copy(({ procRoot, cgroupRoot }) => {
      writeFileSync(join(procRoot, "1300/cgroup"), "0::/ctr-swap (deleted)\n");
      rmSync(join(cgroupRoot, "ctr-swap"), { recursive: true });
    });
    const caller = resolveCaller(1300, { layout, procRoot: roots.procRoot });
    t.is(caller?.paths.memory, "/ctr-swap");
    t.is(caller && readMemoryNumbers(layout, caller.paths), null);
  });

  test("v2: without swap accounting anywhere, no swap numbers", (t) => {
    const { roots, layout } = copy(({ cgroupRoot }) => {
      for (const entry of readdirSync(cgroupRoot, { recursive: true, withFileTypes: true }))
        if (entry.isFile() && entry.name.startsWith("memory.swap.")) rmSync(join(entry.parentPath, entry.name));
    });
    const caller = resolveCaller(1300, { layout, procRoot: roots.procRoot });
    const memory = caller && readMemoryNumbers(layout, caller.paths);
    t.is(memory?.swap, null);
    t.is(memory?.limitBytes, 256 * 1024 * 1024);
  });

  test("v2: the cgroup namespace root comes from the deepest cgroup2 mount that contains the init (a host mount shows /)", (t) => {
    const roots = fixtureRoots("v2");
    const layout = detectLayout(roots.cgroupRoot);
    const caller = resolveCaller(9150, { layout, procRoot: roots.procRoot });
    t.is(caller?.paths.memory, "/ctr-supervised");
  });

  test("v2: an init's mountinfo that cannot be read: told, and init.scope is pruned instead", (t) => {
    const { roots, layout } = copy(({ procRoot }) => {
      rmSync(join(procRoot, "7000/mountinfo"));
      mkdirSync(join(procRoot, "7000/mountinfo")); // reading a directory: EISDIR
    });
    const told: string[] = [];
    const caller = resolveCaller(7050, { layout, procRoot: roots.procRoot, onInitNamespaceError: (err) => told.push(err.path) });
    t.is(caller?.paths.memory, PODMAN_CTR, "init.scope pruned: the same container here");
    t.deepEqual(told, [join(roots.procRoot, "7000/mountinfo")]);
  });

  test("v2: doctor's view of the layout: the controllers the root lists", (t) => {
    const { layout } = copy(({ cgroupRoot }) => writeFileSync(join(cgroupRoot, "cgroup.controllers"), "cpuset cpu io pids\n"));
    t.deepEqual(layout.v2Controllers, ["cpuset", "cpu", "io", "pids"]);
    t.is(layout.mode, "v2");
  });
}
