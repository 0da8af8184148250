// Whose numbers a reader sees, through the live renderer on both fixture trees: a systemd
// sub-cgroup reader sees its container's, an app sharing pause's pid namespace sees its own
// cgroup's, limits set only on a k8s pod parent apply, and the v1 and v2 trees agree wherever
// their kernels report the same thing.
import test from "ava";
import { scenarioByName } from "../fixtures/index.js";
import { GiB, MiB } from "../fixtures/spec.js";
import { TREES, cpuinfoBlocks, hostText, meminfoLine, meminfoLineOf, readAs, rendererFor } from "./expect.js";
import { VIEW_NAMES, type ViewName } from "../../core/layout.js";

const pidOf = (name: string) => scenarioByName(name).pid;
const processorCount = (cpuinfo: string) => cpuinfo.split("\n").filter((l) => /^processor\s*:/.test(l)).length;

for (const tree of TREES) {
  const render = rendererFor(tree, true);
  const host = hostText(tree);
  const read = (view: ViewName, name: string) => readAs(render, view, pidOf(name));

  for (const view of VIEW_NAMES) {
    test(`${tree} systemd-sub-cgroup-reader: ${view} is the container's (ns init's), not app.service's`, (t) => {
      t.is(read(view, "systemd-sub-cgroup-reader"), read(view, "systemd-init"));
    });
  }

  test(`${tree} systemd-sub-cgroup-reader: numbers of /ctr-systemd`, (t) => {
    // app.service has no limit of its own: its numbers would be the host's MemTotal and 3 tasks of which 1 exited.
    t.is(meminfoLineOf(read("meminfo", "systemd-sub-cgroup-reader"), "MemTotal"), meminfoLine("MemTotal", GiB / 1024));
    t.is(read("loadavg", "systemd-sub-cgroup-reader"), "0.00 0.00 0.00 2/3 50\n");
    t.is(read("uptime", "systemd-sub-cgroup-reader").split(" ")[0], "293.40", "age of the ns init (start tick 100000)");
  });

  test(`${tree} shared-pidns-app: its own cgroup, not pause's`, (t) => {
    const app = (view: ViewName) => read(view, "shared-pidns-app");
    const pause = (view: ViewName) => read(view, "shared-pidns-pause");
    t.is(meminfoLineOf(app("meminfo"), "MemTotal"), meminfoLine("MemTotal", (128 * MiB) / 1024));
    t.is(meminfoLineOf(pause("meminfo"), "MemTotal"), meminfoLine("MemTotal", GiB / 1024), "pause: pod-b's 1 GiB");
    t.is(processorCount(app("cpuinfo")), 1, "app's quota 50000/100000");
    t.is(processorCount(pause("cpuinfo")), 2);
    t.is(app("loadavg"), "0.00 0.00 0.00 1/2 7\n");
    t.is(pause("loadavg"), "0.00 0.00 0.00 0/1 1\n");
    // Same pid namespace, so the same init and the same age.
    t.is(app("uptime").split(" ")[0], "193.40");
    t.is(pause("uptime").split(" ")[0], "193.40");
    t.not(app("stat"), pause("stat"));
  });

  test(`${tree} k8s-parent-limit: the pod's limits apply to its container`, (t) => {
    const meminfo = read("meminfo", "k8s-parent-limit");
    t.is(meminfoLineOf(meminfo, "MemTotal"), meminfoLine("MemTotal", (512 * MiB) / 1024));
    const swapTotal = tree === "v2" ? (512 * MiB) / 1024 : 0; // v1's host has no swap
    t.is(meminfoLineOf(meminfo, "SwapTotal"), meminfoLine("SwapTotal", swapTotal));
    // Pod quota 100000/100000 (the container's own 200000 is looser), pod cpuset 1.
    const cpuinfo = read("cpuinfo", "k8s-parent-limit");
    t.is(processorCount(cpuinfo), 1);
    const cpu1 = cpuinfoBlocks(host.cpuinfo).get(1)!;
    t.true(cpuinfo.includes(cpu1.find((l) => l.startsWith("apicid"))!), "host CPU 1's block");
    t.is(read("cpu-online", "k8s-parent-limit"), "0\n");
    t.is(readAs(rendererFor(tree, false), "cpu-online", pidOf("k8s-parent-limit")), "0\n", "cpuset 1 alone without the quota rule");
  });

  test(`${tree} limit-256m-swap-on: cpuset 1 shows host CPU 1 as processor 0`, (t) => {
    const cpuinfo = read("cpuinfo", "limit-256m-swap-on");
    const lines = cpuinfo.split("\n");
    t.is(lines[0], "processor\t: 0");
    t.true(lines.includes("core id\t\t: 1"), "host CPU 1's core id");
    t.true(lines.includes("apicid\t\t: 1"), "host CPU 1's apicid");
    t.false(lines.includes("apicid\t\t: 0"));
  });

  test(`${tree} quota rule: 50000/100000 → 1, 150000/100000 on 0-1 → 2, none → cpuset`, (t) => {
    const off = rendererFor(tree, false);
    t.is(processorCount(read("cpuinfo", "limit-256m-swap-off")), 1);
    t.is(processorCount(read("cpuinfo", "shared-pidns-app")), 1);
    t.is(processorCount(readAs(off, "cpuinfo", pidOf("shared-pidns-app"))), 2, "quota rule off: the whole cpuset");
    t.is(processorCount(read("cpuinfo", "limit-above-host")), 2);
    t.is(processorCount(read("cpuinfo", "no-limit")), 2);
    t.is(processorCount(read("cpuinfo", "limit-256m-swap-on")), 1);
  });

  test(`${tree} unknown pid and pid 0: the host's files`, (t) => {
    t.is(readAs(render, "meminfo", 0), host.meminfo);
    t.is(readAs(render, "cpu-online", 0), host.cpuOnline);
    t.is(readAs(render, "cpu-offline", 0), "\n");
    t.is(readAs(render, "meminfo", 3052), host.meminfo, "exited pid 3052");
  });
}

// The trees differ only where their kernels do (host swap, v1 per-CPU usage, v1 slab); the rest agrees.
{
  const v1 = rendererFor("v1", true);
  const v2 = rendererFor("v2", true);
  const same: ViewName[] = ["cpuinfo", "uptime", "loadavg", "diskstats", "cpu-online", "cpu-possible", "cpu-present", "cpu-offline"];
  for (const name of [
    "no-limit",
    "limit-above-host",
    "limit-256m-swap-off",
    "limit-256m-swap-on",
    "k8s-parent-limit",
    "systemd-init",
    "systemd-sub-cgroup-reader",
    "shared-pidns-pause",
    "shared-pidns-app",
    "host-pidns-container",
  ]) {
    test(`v1 = v2 ${name}: ${same.join(", ")}`, (t) => {
      for (const view of same) t.is(readAs(v1, view, pidOf(name)), readAs(v2, view, pidOf(name)), view);
      const memLines = (text: string) => ["MemTotal", "MemFree"].map((k) => meminfoLineOf(text, k));
      t.deepEqual(memLines(readAs(v1, "meminfo", pidOf(name))), memLines(readAs(v2, "meminfo", pidOf(name))), "MemTotal, MemFree");
    });
  }
}

// ---- the v2 tree's real-host shapes ----
{
  const render = rendererFor("v2", true);
  const host = hostText("v2");
  const read = (view: ViewName, name: string) => readAs(render, view, pidOf(name));

  for (const view of VIEW_NAMES) {
    test(`v2 podman --systemd: ${view} is the same for systemd in init.scope, a service and an exec'd process`, (t) => {
      const init = read(view, "podman-systemd-init");
      t.is(read(view, "podman-systemd-service"), init);
      t.is(read(view, "podman-systemd-exec"), init);
    });
  }

  test("v2 podman --systemd: the container's numbers, its limits from the scope above", (t) => {
    t.is(meminfoLineOf(read("meminfo", "podman-systemd-service"), "MemTotal"), meminfoLine("MemTotal", GiB / 1024));
    t.is(processorCount(read("cpuinfo", "podman-systemd-service")), 2, "quota 200000/100000 on the scope");
    // init.scope (systemd, the exec'd shell), httpd (2 R threads), postgres (D).
    t.is(read("loadavg", "podman-systemd-service"), "0.00 0.00 0.00 2/5 80\n");
  });

  test("v2 systemd host: a shell in its session scope reads the host's files", (t) => {
    t.is(readAs(render, "meminfo", 100), host.meminfo);
    t.is(readAs(render, "cpuinfo", 100), host.cpuinfo);
    t.is(readAs(render, "loadavg", 100), host.loadavg);
  });

  test("v2 memory.high below memory.max: MemTotal is memory.high", (t) => {
    t.is(meminfoLineOf(read("meminfo", "k8s-systemd-app"), "MemTotal"), meminfoLine("MemTotal", (192 * MiB) / 1024));
  });

  test("v2 a leaf without the memory controller: the memory of the slice it is charged to", (t) => {
    t.is(meminfoLineOf(read("meminfo", "leaf-without-memory"), "MemTotal"), meminfoLine("MemTotal", (2 * GiB) / 1024));
    t.is(processorCount(read("cpuinfo", "leaf-without-memory")), 1, "its own quota 50000/100000 all the same");
  });

  test("v2 an empty memory.max: no limit there, the pod's applies", (t) => {
    t.is(meminfoLineOf(read("meminfo", "shared-pidns-pause"), "MemTotal"), meminfoLine("MemTotal", GiB / 1024));
  });

  test("v2 a thread in a threaded cgroup: its container's memory, the whole threaded domain's tasks", (t) => {
    t.is(meminfoLineOf(read("meminfo", "threaded-vcpu-thread"), "MemTotal"), meminfoLine("MemTotal", (2 * GiB) / 1024));
    t.is(read("loadavg", "threaded-vcpu-thread"), "0.00 0.00 0.00 2/3 3\n");
  });
}
