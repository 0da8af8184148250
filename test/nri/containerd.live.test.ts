// procview's NRI plugin against a real containerd 1.7, driven over CRI as
// kubelet drives it: a pod sandbox with host networking, a container limited
// to 256 MiB and one CPU, and what `cat` reads inside it.
import test from "ava";
import path from "node:path";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { startProcview, type RunningProcview } from "../../testbed/procview.js";
import { CriClient, execSync, removeAllPods, runPod, startContainer } from "./support/cri.js";
import {
  destroyContainerdDir,
  importImage,
  makeContainerdDir,
  startContainerd,
  TEST_IMAGE,
  writeContainerdConfig,
  type ContainerdDirs,
  type RunningContainerd,
} from "./support/containerd.js";
import { writeOciImage } from "./support/oci-image.js";
import { startPluginProcess, type PluginProcess } from "./support/plugin-process.js";

const MiB = 1024 * 1024;

interface Ctx {
  procview: RunningProcview;
  dirs: ContainerdDirs;
  containerd: RunningContainerd;
  plugin: PluginProcess;
  cri: CriClient;
}
const ctx: Partial<Ctx> = {};
let seq = 0;

const memTotal = (meminfo: string): string => /^MemTotal:.*$/m.exec(meminfo)?.[0].replace(/\s+/g, " ") ?? "(no MemTotal line)";
const processors = (cpuinfo: string): number => cpuinfo.split("\n").filter((l) => /^processor\s*:/.test(l)).length;
const hostMemTotal = async (): Promise<string> => memTotal(await (await import("node:fs/promises")).readFile("/proc/meminfo", "utf8"));
const hostCpus = async (): Promise<number> => processors(await (await import("node:fs/promises")).readFile("/proc/cpuinfo", "utf8"));

async function limitedContainer(c: Ctx, annotations: Record<string, string> = {}): Promise<string> {
  const n = ++seq;
  const pod = await runPod(c.cri, `pod-${n}`);
  return startContainer(c.cri, pod, `ctr-${n}`, { image: TEST_IMAGE, memoryBytes: 256 * MiB, cpus: 1, annotations });
}

function need(): Ctx {
  for (const k of ["procview", "dirs", "containerd", "plugin", "cri"] as const)
    if (!ctx[k]) throw new Error(`setup did not finish (${k} missing); see the before hook's failure`);
  return ctx as Ctx;
}

test.before(async () => {
  ctx.procview = await startProcview();
  ctx.dirs = await makeContainerdDir();
  await writeContainerdConfig(ctx.dirs, { nri: true });
  ctx.containerd = await startContainerd(ctx.dirs);
  const tarball = path.join(ctx.dirs.dir, "image.tar");
  await writeOciImage({ rootfs: await busyboxRootfs(), name: TEST_IMAGE, cmd: ["/bin/sleep", "86400"] }, tarball);
  await importImage(ctx.dirs, tarball);
  ctx.plugin = startPluginProcess(["--socket", ctx.dirs.nriSocket, "--source", ctx.procview.mountPoint, "--retry-ms", "200"]);
  await ctx.plugin.waitFor(/registered as 10-procview/, 15_000);
  ctx.cri = await CriClient.connect(ctx.dirs.address);
});

test.after.always(async () => {
  if (ctx.cri) {
    await removeAllPods(ctx.cri).catch(() => undefined);
    ctx.cri.close();
  }
  await ctx.plugin?.stop();
  await ctx.containerd?.stop();
  if (ctx.dirs && !process.env.PROCVIEW_KEEP) await destroyContainerdDir(ctx.dirs);
  await ctx.procview?.stop();
});

test.serial("a container created through CRI reads its own limits: MemTotal 262144 kB, one processor, online 0", async (t) => {
  const c = need();
  const id = await limitedContainer(c);
  const meminfo = await execSync(c.cri, id, ["cat", "/proc/meminfo"]);
  const cpuinfo = await execSync(c.cri, id, ["cat", "/proc/cpuinfo"]);
  const online = await execSync(c.cri, id, ["cat", "/sys/devices/system/cpu/online"]);
  const mounts = await execSync(c.cri, id, ["cat", "/proc/self/mountinfo"]);
  t.log(memTotal(meminfo), `| processors: ${processors(cpuinfo)} | online: ${online.trim()}`);
  t.log(c.plugin.lines.filter((l) => l.includes("ctr-")).join("\n"));
  t.is(memTotal(meminfo), "MemTotal: 262144 kB");
  t.is(processors(cpuinfo), 1);
  t.is(online.trim(), "0");
  for (const f of [
    "/proc/meminfo",
    "/proc/cpuinfo",
    "/proc/stat",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/diskstats",
    "/proc/swaps",
    "/sys/devices/system/cpu/online",
    "/proc/slabinfo",
  ]) {
    t.regex(mounts, new RegExp(` ${f.replace(/\//g, "\\/")} ro,`), `${f} is a read-only bind`);
  }
  // runc refuses these inside /proc: the plugin leaves them out, and says so.
  for (const f of ["/proc/pressure/memory", "/proc/vmstat"]) {
    t.notRegex(mounts, new RegExp(` ${f.replace(/\//g, "\\/")} `), `${f} is not bound`);
    t.true(
      c.plugin.lines.some((l) => l.includes(`skipped ${f}: runc refuses a mount there`)),
      `${f}: the reason is logged`,
    );
  }
});

test.serial("the opt-out annotation io.procview.disable=true leaves the host files", async (t) => {
  const c = need();
  const id = await limitedContainer(c, { "io.procview.disable": "true" });
  const meminfo = await execSync(c.cri, id, ["cat", "/proc/meminfo"]);
  const cpuinfo = await execSync(c.cri, id, ["cat", "/proc/cpuinfo"]);
  t.log(c.plugin.lines.filter((l) => l.includes(`ctr-${seq}`)).join("\n"));
  t.is(memTotal(meminfo), await hostMemTotal());
  t.is(processors(cpuinfo), await hostCpus());
  await c.plugin.waitFor(new RegExp(`ctr-${seq}: no views: opted out by annotation io.procview.disable=true`), 1000);
});

test.serial("the opt-out annotation on the pod (where Kubernetes users put it) applies to its containers", async (t) => {
  const c = need();
  const n = ++seq;
  const pod = await runPod(c.cri, `pod-${n}`, { "io.procview.disable": "true" });
  const id = await startContainer(c.cri, pod, `ctr-${n}`, { image: TEST_IMAGE, memoryBytes: 256 * MiB, cpus: 1 });
  t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), await hostMemTotal());
  await c.plugin.waitFor(new RegExp(`ctr-${n}: no views: opted out by annotation io.procview.disable=true`), 1000);
});

test.serial("containerd restarted: the plugin re-registers and the next container gets its views", async (t) => {
  const c = need();
  const from = c.plugin.lines.length;
  await c.containerd.stop();
  t.log(await c.plugin.waitFor(/reconnecting$/, 10_000, from));
  ctx.containerd = await startContainerd(c.dirs);
  c.containerd = ctx.containerd;
  t.log(await c.plugin.waitFor(/registered as 10-procview/, 15_000, from));
  c.cri.close();
  ctx.cri = c.cri = await CriClient.connect(c.dirs.address);
  const id = await limitedContainer(c);
  t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), "MemTotal: 262144 kB");
  t.is(processors(await execSync(c.cri, id, ["cat", "/proc/cpuinfo"])), 1);
});

// Last: it stops procview.
test.serial("procview's mount down: the container still starts, with the host's files, and the plugin says why", async (t) => {
  const c = need();
  await c.procview.stop();
  const started = Date.now();
  const id = await limitedContainer(c);
  t.log(`pod + container started in ${Date.now() - started} ms`);
  t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), await hostMemTotal());
  t.is(processors(await execSync(c.cri, id, ["cat", "/proc/cpuinfo"])), await hostCpus());
  t.log(
    await c.plugin.waitFor(
      new RegExp(`ctr-${seq}: no views, container starts with the host's files: source .* (is not mounted or not readable|did not answer)`),
      1000,
    ),
  );
});
