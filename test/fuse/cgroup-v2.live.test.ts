// procview serving the machine's real cgroup2 hierarchy (--cgroup-root /sys/fs/cgroup/unified: a
// pure v2 layout without controllers) to real processes in real pid and cgroup namespaces:
// - a podman --systemd-style container (systemd in <container>/init.scope, services in
//   system.slice, a process exec'd into init.scope): every one of them gets the container's
//   numbers, with the container found from its init's cgroup namespace, and without one by
//   pruning init.scope;
// - an init beside its workers: only the cgroup namespace root names the whole container;
// - a thread in a threaded cgroup reading every file, and the load sampling over it, while the
//   serving process stays the same one.
// Without controllers the memory, cpuset and io views are the host's here; what tells containers
// apart is the task count of loadavg (cgroup.threads of the whole container tree) and the
// caller's paths, both asserted.
import test from "ava";
import { join } from "node:path";
import { startProcview, type RunningProcview } from "../../testbed/procview.js";
import { UNIFIED_ROOT, createV2Tree, startLiveContainer, threadsIn, type LiveContainer, type V2Tree } from "../../testbed/cgroups-v2.js";
import { detectLayout } from "../../fuse/cgroup/layout.js";
import { resolveCaller } from "../../fuse/cgroup/caller.js";
import { readStatus } from "../../fuse/keeper/status.js";
import { statusPath } from "../../core/paths.js";
import { VIEW_PATHS } from "../../core/layout.js";
import { execa } from "execa";

let service: RunningProcview;
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  service = await startProcview({ extraArgs: ["--cgroup-root", UNIFIED_ROOT] });
});
test.after.always(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await service?.stop();
});

function tree(): V2Tree {
  const made = createV2Tree();
  cleanups.push(() => made.remove());
  return made;
}

async function container(spec: Parameters<typeof startLiveContainer>[0]): Promise<LiveContainer> {
  const started = await startLiveContainer(spec);
  cleanups.push(() => started.stop());
  return started;
}

const file = (relative: string) => join(service.mountPoint, relative);
const layout = () => detectLayout(UNIFIED_ROOT);
/** "R/T" of a loadavg line: running and total tasks. */
const tasksOf = (loadavg: string) => {
  const m = /^\S+ \S+ \S+ (\d+)\/(\d+) \d+$/.exec(loadavg.trim());
  if (!m) throw new Error(`not a loadavg line: ${JSON.stringify(loadavg)}`);
  return { running: Number(m[1]), total: Number(m[2]) };
};

for (const cgroupNamespace of [true, false]) {
  const how = cgroupNamespace ? "its init's cgroup namespace root" : "init.scope pruned (no cgroup namespace)";
  test.serial(`podman --systemd layout, container from ${how}: init, services and an exec'd process all see the container`, async (t) => {
    const v2 = tree();
    const base = "machine.slice/libpod-1.scope/container";
    const root = v2.make(base);
    const initDir = v2.make(`${base}/init.scope`);
    const services = [v2.make(`${base}/system.slice/httpd.service`), v2.make(`${base}/system.slice/postgresql.service`)];
    const ctr = await container({ root, initDir, serviceDirs: services, cgroupNamespace });

    // Who each process is, as the service resolves it.
    const members = [ctr.initPid, ...services.map((d) => threadsIn(d)[0]!)];
    for (const pid of members) {
      const caller = resolveCaller(pid, { layout: layout() });
      t.truthy(caller, `pid ${pid} resolves`);
      t.is(caller?.paths.memory, v2.pathOf(base), `pid ${pid} (own cgroup ${caller?.ownPaths.memory}) is in the container`);
      t.is(caller?.key, v2.pathOf(base));
      t.false(caller?.isHost);
    }

    // What each reads through the mount: the whole container's tasks (init, two services and
    // the reader itself), not its sub-cgroup's (one or two).
    for (const dir of [initDir, ...services]) {
      const loadavg = await ctr.exec(dir, ["cat", file("proc/loadavg")]);
      t.true(tasksOf(loadavg).total >= 3, `a reader in ${dir.slice(UNIFIED_ROOT.length)} counts the container's tasks: ${loadavg}`);
      const uptime = Number((await ctr.exec(dir, ["cat", file("proc/uptime")])).split(" ")[0]);
      t.true(uptime >= 0 && uptime < 60, `the container's age, not the host's: ${uptime}`);
    }
  });
}

test.serial("an init beside its workers: with a cgroup namespace the whole container, without one each its own", async (t) => {
  for (const cgroupNamespace of [true, false]) {
    const v2 = tree();
    const root = v2.make("ctr");
    const initDir = v2.make("ctr/supervisor");
    const workers = v2.make("ctr/workers");
    const ctr = await container({ root, initDir, serviceDirs: [workers], cgroupNamespace });
    const worker = resolveCaller(threadsIn(workers)[0]!, { layout: layout() });
    t.is(worker?.key, cgroupNamespace ? v2.pathOf("ctr") : v2.pathOf("ctr/workers"));
    const loadavg = await ctr.exec(workers, ["cat", file("proc/loadavg")]);
    if (cgroupNamespace) t.true(tasksOf(loadavg).total >= 3, `init, worker and reader: ${loadavg}`);
    else t.is(tasksOf(loadavg).total, 2, `worker and reader only: ${loadavg}`);
  }
});

test.serial(
  "a thread in a threaded cgroup reads every file, the loads are sampled over it, and the serving process stays up",
  async (t) => {
    const status = () => readStatus(statusPath(service.mountPoint));
    const servingBefore = status()?.servingPid;
    t.truthy(servingBefore);
    const v2 = tree();
    const domain = v2.make("vm.scope");
    const vcpu = v2.make("vm.scope/vcpu0", { threaded: true });
    // A busy thread in the threaded cgroup, a process of the container.
    const ctr = await container({ root: domain, busyThreadDirs: [vcpu] });

    // A reader of the container, its thread in the threaded cgroup: reading cgroup.procs there
    // fails with EOPNOTSUPP, for its container's task count as for the load tracker.
    for (const view of Object.values(VIEW_PATHS)) {
      const text = await ctr.exec(domain, ["cat", file(view)], { threadDir: vcpu });
      t.true(text.length > 0 || view.endsWith("offline"), `${view} answered`);
    }
    // A process of the host's pid namespace with a cgroup namespace of its own (so not the host):
    // its own threaded cgroup is its container, walked from there.
    const own = await execa(
      "unshare",
      [
        "--cgroup",
        "/bin/sh",
        "-c",
        'echo 0 > "$1/cgroup.procs" && echo 0 > "$2/cgroup.threads" && exec cat "$3"',
        "sh",
        domain,
        vcpu,
        file("proc/loadavg"),
      ],
      { timeout: 20_000 },
    );
    t.true(tasksOf(own.stdout).total >= 2, `the busy thread and the reader: ${own.stdout}`);

    // The tracker counts the container every 5 s: its load rises with the busy thread.
    const until = Date.now() + 30_000;
    const read = () => ctr.exec(domain, ["cat", file("proc/loadavg")], { threadDir: vcpu });
    let loadavg = await read();
    while (Number(loadavg.split(" ")[0]) === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
      loadavg = await read();
    }
    t.true(Number(loadavg.split(" ")[0]) > 0, `sampled: ${loadavg}`);
    t.true(tasksOf(loadavg).running >= 1, loadavg);

    const after = status();
    t.is(after?.servingPid, servingBefore, "the same serving process answered throughout");
    t.is(after?.restarts, 0);
    t.is(after?.renderFailures, 0);
    t.true(service.alive());
  },
);
