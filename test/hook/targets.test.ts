import test from "ava";
import { planViews, optOutReason, normalizeContainerPath, type Plan } from "../../plan/plan.js";
import { VIEW_FILES } from "../../core/layout.js";

const base = { source: "/var/lib/procview", namespaces: [{ type: "mount" }] };
const mounted = (p: Plan) => (p.kind === "mount" ? p.mounts.map((m) => m.destination) : []);
const skipped = (p: Plan) => (p.kind === "mount" ? Object.fromEntries(p.skipped.map((s) => [s.destination, s.reason])) : {});

test("plans every view file from the source to the same path in the container", (t) => {
  const plan = planViews(base);
  t.is(plan.kind, "mount");
  if (plan.kind !== "mount") return;
  t.deepEqual(
    plan.mounts,
    VIEW_FILES.map((f) => ({ file: f, source: `/var/lib/procview/${f}`, destination: `/${f}` })),
  );
  t.deepEqual(plan.skipped, []);
});

test("standard /proc and /sys mounts do not count as user binds", (t) => {
  const plan = planViews({
    ...base,
    mounts: [
      { destination: "/proc", type: "proc" },
      { destination: "/sys", type: "sysfs" },
      { destination: "/dev", type: "tmpfs" },
    ],
  });
  t.is(mounted(plan).length, VIEW_FILES.length);
});

test("a path the container binds itself is skipped, as is one under a bound directory", (t) => {
  const plan = planViews({
    ...base,
    mounts: [
      { destination: "/proc/meminfo", type: "bind" },
      { destination: "/sys/devices/system/cpu/", type: "bind" },
    ],
  });
  t.false(mounted(plan).includes("/proc/meminfo"));
  t.false(mounted(plan).includes("/sys/devices/system/cpu/online"));
  t.regex(skipped(plan)["/proc/meminfo"] ?? "", /mounts "\/proc\/meminfo" itself/);
  t.regex(skipped(plan)["/sys/devices/system/cpu/online"] ?? "", /itself/);
  t.is(mounted(plan).length, VIEW_FILES.length - 2);
});

test("a bind of the whole /proc (not procfs) covers every proc target", (t) => {
  const plan = planViews({ ...base, mounts: [{ destination: "/proc", type: "bind" }] });
  t.deepEqual(mounted(plan), ["/sys/devices/system/cpu/online"]);
});

test("maskedPaths entries and their subpaths are skipped", (t) => {
  const plan = planViews({ ...base, maskedPaths: ["/proc/swaps", "/sys/devices/system/cpu"] });
  t.regex(skipped(plan)["/proc/swaps"] ?? "", /maskedPaths/);
  t.regex(skipped(plan)["/sys/devices/system/cpu/online"] ?? "", /maskedPaths/);
});

test("opt-out annotations", (t) => {
  t.truthy(optOutReason({ "io.procview.disable": "true" }));
  t.truthy(optOutReason({ "io.procview.disable": " TRUE " }));
  t.falsy(optOutReason({ "io.procview.disable": "false" }));
  t.falsy(optOutReason({ "io.procview.disable": "yes please" }));
  t.truthy(optOutReason({ "mutating.lxcfs-admission-webhook.io/enable": "false" }));
  t.truthy(optOutReason({ "io.kubernetes.cri.container-type": "sandbox" }));
  t.falsy(optOutReason({ "io.kubernetes.cri.container-type": "container" }));
  t.truthy(optOutReason({ "io.kubernetes.cri-o.ContainerType": "sandbox" }));
  t.truthy(optOutReason({ "io.kubernetes.docker.type": "podsandbox" }));
  t.falsy(optOutReason(undefined));
  const plan = planViews({ ...base, annotations: { "io.procview.disable": "true" } });
  t.deepEqual(plan, { kind: "opt-out", reason: "opted out by annotation io.procview.disable=true" });
});

test("no mount namespace means no views", (t) => {
  t.is(planViews({ source: "/x", namespaces: [{ type: "pid" }] }).kind, "opt-out");
  t.is(planViews({ source: "/x" }).kind, "opt-out");
});

test("container paths are normalised before comparing", (t) => {
  t.is(normalizeContainerPath("proc/../proc//meminfo/"), "/proc/meminfo");
  t.is(normalizeContainerPath("/../../etc"), "/etc");
  const plan = planViews({ ...base, mounts: [{ destination: "/proc/./meminfo", type: "bind" }] });
  t.false(mounted(plan).includes("/proc/meminfo"));
});

test("mounts that go into the OCI spec (NRI) skip the /proc files runc refuses; the hook binds them all", (t) => {
  const inSpec = planViews({ ...base, inSpec: true });
  const refused = ["/proc/pressure/cpu", "/proc/pressure/memory", "/proc/pressure/io", "/proc/vmstat"];
  t.deepEqual(
    mounted(inSpec),
    mounted(planViews(base)).filter((d) => !refused.includes(d)),
  );
  t.true(mounted(inSpec).includes("/proc/slabinfo"), "on runc's list");
  for (const file of refused) t.regex(skipped(inSpec)[file] ?? "", /runc refuses a mount there/, file);
  t.true(mounted(planViews(base)).includes("/proc/vmstat"));
  t.true(mounted(planViews(base)).includes("/proc/pressure/memory"));
  // Per-file rules still apply on top: the container's own bind and a masked path.
  const own = planViews({
    ...base,
    inSpec: true,
    mounts: [{ destination: "/proc/slabinfo", type: "bind" }],
    maskedPaths: ["/proc/vmstat"],
  });
  t.regex(skipped(own)["/proc/slabinfo"] ?? "", /mounts "\/proc\/slabinfo" itself/);
  const hook = planViews({ ...base, mounts: [{ destination: "/proc/pressure", type: "bind" }], maskedPaths: ["/proc/vmstat"] });
  t.regex(skipped(hook)["/proc/pressure/io"] ?? "", /mounts "\/proc\/pressure" itself/);
  t.regex(skipped(hook)["/proc/vmstat"] ?? "", /masked by linux.maskedPaths/);
  t.true(mounted(hook).includes("/proc/slabinfo"));
});
