// The plugin's decisions, with a stand-in for the health probe.
import test from "ava";
import { decide, effectiveAnnotations, MOUNT_OPTIONS } from "../../nri/plugin.js";
import type { CreateContainerRequest } from "../../nri/messages.js";

const req = (
  over: Partial<CreateContainerRequest["container"]> = {},
  podAnnotations: Record<string, string> = {},
): CreateContainerRequest => ({
  pod: { id: "p", name: "web", uid: "u", namespace: "ns", labels: {}, annotations: podAnnotations },
  container: {
    id: "c",
    podSandboxId: "p",
    name: "app",
    labels: {},
    annotations: { "io.kubernetes.cri.container-type": "container" },
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: [] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["ro"] },
    ],
    namespaces: [
      { type: "pid", path: "" },
      { type: "mount", path: "" },
    ],
    cgroupsPath: "",
    ...over,
  },
});
const healthy = () => Promise.resolve({ ok: true as const });
const opts = { source: "/nonexistent", probeTimeoutMs: 500, runtimeDir: "/nonexistent-run" };

test("the nine files runc accepts as read-only binds when healthy (sources checked for existence); the others skipped, said why", async (t) => {
  // /  has proc/meminfo, proc/cpuinfo, ... and sys/devices/system/cpu/online: the host's own files stand in for procview's
  const d = await decide(req(), { source: "/", probeTimeoutMs: 500, runtimeDir: "/nonexistent-run" }, healthy);
  t.deepEqual(
    d.mounts.map((m) => m.destination),
    [
      "/proc/meminfo",
      "/proc/cpuinfo",
      "/proc/stat",
      "/proc/uptime",
      "/proc/loadavg",
      "/proc/diskstats",
      "/proc/swaps",
      "/sys/devices/system/cpu/online",
      "/proc/slabinfo",
    ],
  );
  t.deepEqual(d.mounts[0], { destination: "/proc/meminfo", type: "bind", source: "/proc/meminfo", options: [...MOUNT_OPTIONS] });
  t.regex(d.line, /^ns\/web\/app: 9 views/);
  for (const file of ["/proc/pressure/cpu", "/proc/pressure/memory", "/proc/pressure/io", "/proc/vmstat"]) {
    t.true(d.line.includes(`skipped ${file}: runc refuses a mount there`), file);
  }
});

test("a path the container mounts itself is skipped (planViews rule), the rest bound", async (t) => {
  const r = req();
  r.container.mounts.push({ destination: "/proc/cpuinfo", type: "bind", source: "/etc/my-cpuinfo", options: ["rbind"] });
  const d = await decide(r, { source: "/", probeTimeoutMs: 500, runtimeDir: "/nonexistent-run" }, healthy);
  t.is(d.mounts.length, 8);
  t.false(d.mounts.some((m) => m.destination === "/proc/cpuinfo"));
  t.regex(d.line, /skipped \/proc\/cpuinfo: the container mounts "\/proc\/cpuinfo" itself/);
});

test("unhealthy source: nothing added, the reason in the line, and the probe is not even asked for opted-out containers", async (t) => {
  const d = await decide(req(), opts, () => Promise.resolve({ ok: false as const, reason: "source /x did not answer within 500 ms" }));
  t.deepEqual(d.mounts, []);
  t.regex(d.line, /no views, container starts with the host's files: source \/x did not answer/);
  let asked = false;
  const o = await decide(
    req({ annotations: { "io.procview.disable": "true" } }),
    opts,
    () => ((asked = true), Promise.resolve({ ok: true as const })),
  );
  t.deepEqual(o.mounts, []);
  t.false(asked);
});

test("no mount namespace, sandbox containers: nothing", async (t) => {
  t.regex((await decide(req({ namespaces: [{ type: "pid", path: "" }] }), opts, healthy)).line, /shares the host mount namespace/);
  t.regex((await decide(req({ namespaces: undefined }), opts, healthy)).line, /shares the host mount namespace/);
  t.regex((await decide(req({ annotations: { "io.kubernetes.cri.container-type": "sandbox" } }), opts, healthy)).line, /sandbox/);
});

test("pod annotations count, less the runtime's keys (containerd sends the sandbox's own container-type=sandbox); the container's win", (t) => {
  const pod = { "io.kubernetes.cri.container-type": "sandbox", "io.kubernetes.cri.sandbox-id": "p", "io.procview.disable": "true" };
  t.deepEqual(effectiveAnnotations(req({}, pod)), { "io.procview.disable": "true", "io.kubernetes.cri.container-type": "container" });
  t.is(effectiveAnnotations(req({ annotations: { "io.procview.disable": "false" } }, pod))["io.procview.disable"], "false");
});
