// procview's NRI plugin against a real containerd of either line, driven over CRI as kubelet
// drives it: pod sandboxes with host networking, containers limited to 256 MiB and one CPU,
// and what `cat` reads inside them. Serial: the tests share one containerd and build on each
// other's node state; the last one stops procview.
import test from "ava";
import { readFile } from "node:fs/promises";
import { execa } from "execa";
import { startProcview, type RunningProcview } from "../../../testbed/procview.js";
import { CriClient, execSync, removeAllPods, runPod, startContainer, createContainer } from "../../support/cri.js";
import {
  destroyContainerdDir,
  importTestImage,
  makeContainerdDir,
  restartContainerd,
  startContainerd,
  TEST_IMAGE,
  writeContainerdConfig,
  type ContainerdDirs,
  type RunningContainerd,
} from "../../support/containerd.js";
import type { ContainerdLine } from "../../support/containerd-builds.js";
import { CONTAINERS_SOURCE, VIEW_FILES } from "../../../core/layout.js";
import { CLI_ENTRY } from "../../../core/paths.js";
import { RUNC_PROC_MOUNTS } from "../../../plan/plan.js";
import { startPluginProcess, type PluginProcess } from "./plugin-process.js";

const MiB = 1024 * 1024;

interface Ctx {
  procview: RunningProcview;
  dirs: ContainerdDirs;
  containerd: RunningContainerd;
  plugin: PluginProcess;
  cri: CriClient;
}

export const memTotal = (meminfo: string): string => /^MemTotal:.*$/m.exec(meminfo)?.[0].replace(/\s+/g, " ") ?? "(no MemTotal line)";
export const processors = (cpuinfo: string): number => cpuinfo.split("\n").filter((l) => /^processor\s*:/.test(l)).length;
const hostMemTotal = async (): Promise<string> => memTotal(await readFile("/proc/meminfo", "utf8"));
const hostCpus = async (): Promise<number> => processors(await readFile("/proc/cpuinfo", "utf8"));

export function containerdSuite(line: ContainerdLine): void {
  const ctx: Partial<Ctx> = {};
  let seq = 0;
  const pluginArgs = (d: ContainerdDirs, procview: RunningProcview): string[] => [
    "--socket",
    d.nriSocket,
    "--source",
    procview.mountPoint,
    "--retry-ms",
    "200",
    // procview's runtime directory (the default), where it reads the registry and the plugins
    // keep their status records (nri-status below picks this test's by its NRI socket).
  ];

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
    ctx.dirs = await makeContainerdDir(line);
    await writeContainerdConfig(ctx.dirs, "on");
    ctx.containerd = await startContainerd(ctx.dirs);
    await importTestImage(ctx.dirs);
    ctx.plugin = startPluginProcess(pluginArgs(ctx.dirs, ctx.procview));
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

  test.serial(
    `containerd ${line}: a CRI container limited to 256 MiB / 1 CPU reads MemTotal: 262144 kB, one processor, online 0`,
    async (t) => {
      const c = need();
      const configured = c.plugin.lines.find((l) => l.includes("configured by")) ?? "";
      t.log(`containerd ${c.dirs.build.version}; ${configured}`);
      // NRI 0.7 and later (containerd 2) send their timeouts in ConfigureRequest; NRI 0.6 (1.7) does not.
      if (line === "2") t.regex(configured, /\(request timeout 2000 ms, registration timeout 5000 ms; health check deadline 800 ms\)/);
      else t.regex(configured, /\(NRI's defaults: the runtime sent none\)/);
      const id = await limitedContainer(c);
      const meminfo = await execSync(c.cri, id, ["cat", "/proc/meminfo"]);
      const cpuinfo = await execSync(c.cri, id, ["cat", "/proc/cpuinfo"]);
      const online = await execSync(c.cri, id, ["cat", "/sys/devices/system/cpu/online"]);
      const mounts = await execSync(c.cri, id, ["cat", "/proc/self/mountinfo"]);
      t.log(memTotal(meminfo), `| processors: ${processors(cpuinfo)} | online: ${online.trim()}`);
      t.is(memTotal(meminfo), "MemTotal: 262144 kB");
      t.is(processors(cpuinfo), 1);
      t.is(online.trim(), "0");
      const files = VIEW_FILES.map((v) => `/${v}`);
      const refused = (f: string): boolean => f.startsWith("/proc/") && !RUNC_PROC_MOUNTS.has(f);
      for (const f of files.filter((f) => !refused(f))) {
        t.regex(mounts, new RegExp(` ${f.replace(/\//g, "\\/")} ro,`), `${f} is a read-only bind`);
        // From the container's own copy, on the per-container tree (registered by its cgroups path).
        t.regex(
          mounts,
          new RegExp(`^\\S+ \\S+ \\S+ /${id}${f} ${f.replace(/\//g, "\\/")} .* - fuse\\.procview ${CONTAINERS_SOURCE} `, "m"),
          `${f} from containers/${id}`,
        );
      }
      // runc refuses the others inside /proc: the plugin leaves them out, and says so.
      for (const f of files.filter(refused)) {
        t.notRegex(mounts, new RegExp(` ${f.replace(/\//g, "\\/")} `), `${f} is not bound`);
        t.true(
          c.plugin.lines.some((l) => l.includes(`skipped ${f}: runc refuses a mount there`)),
          `${f}: the reason is logged`,
        );
      }
    },
  );

  test.serial(
    `containerd ${line}: the opt-out annotation io.procview.disable=true, on the container or its pod, leaves the host files`,
    async (t) => {
      const c = need();
      const id = await limitedContainer(c, { "io.procview.disable": "true" });
      t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), await hostMemTotal());
      t.is(processors(await execSync(c.cri, id, ["cat", "/proc/cpuinfo"])), await hostCpus());
      await c.plugin.waitFor(new RegExp(`ctr-${seq}: no views: opted out by annotation io.procview.disable=true`), 1000);
      const n = ++seq;
      const pod = await runPod(c.cri, `pod-${n}`, { annotations: { "io.procview.disable": "true" } });
      const onPod = await startContainer(c.cri, pod, `ctr-${n}`, { image: TEST_IMAGE, memoryBytes: 256 * MiB, cpus: 1 });
      t.is(memTotal(await execSync(c.cri, onPod, ["cat", "/proc/meminfo"])), await hostMemTotal());
      await c.plugin.waitFor(new RegExp(`ctr-${n}: no views: opted out by annotation io.procview.disable=true`), 1000);
    },
  );

  test.serial(
    `containerd ${line}: with more than 4 MiB of container state when the plugin connects, it stays connected and the next container gets its views`,
    async (t) => {
      const c = need();
      await c.plugin.stop();
      // Ten containers carrying a 500 KiB annotation each: about 5 MiB in Synchronize.
      const pod = await runPod(c.cri, "heavy");
      for (let i = 0; i < 10; i++)
        await createContainer(c.cri, pod, `heavy-${i}`, { image: TEST_IMAGE, annotations: { "example.com/blob": "x".repeat(500 * 1024) } });
      const started = Date.now();
      ctx.plugin = c.plugin = startPluginProcess(pluginArgs(c.dirs, c.procview));
      const synced = await c.plugin.waitFor(/^procview-nri: synchronized: /, 30_000);
      await c.plugin.waitFor(/registered as 10-procview/, 15_000);
      t.log(`${synced} (${Date.now() - started} ms from start)`);
      const bytes = Number(/\((\d+) bytes/.exec(synced)?.[1]);
      t.true(bytes > 4 * MiB, `Synchronize carried ${bytes} bytes`);
      t.regex(synced, /and (1[0-9]|[2-9][0-9]) containers/);
      // NRI 0.7 and later split it (containerd 2); NRI 0.6 (containerd 1.7) sends it whole.
      if (line === "2") t.regex(synced, / in \d+ parts/);
      const id = await limitedContainer(c);
      t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), "MemTotal: 262144 kB");
      t.is(c.plugin.lines.filter((l) => /synchronized: /.test(l)).length, 1, "one line per complete sync");
      t.false(
        c.plugin.lines.some((l) => /connection lost|closed the connection|reconnecting/.test(l)),
        c.plugin.lines.join("\n"),
      );
      t.notRegex(c.containerd.logTail(400), /does not handle split sync|failed to synchronize/);
    },
  );

  test.serial(`containerd ${line}: a restart of containerd leads to re-registration, and the next container gets its views`, async (t) => {
    const c = need();
    const from = c.plugin.lines.length;
    const restarting = restartContainerd(c.containerd);
    t.log(await c.plugin.waitFor(/reconnecting$/, 15_000, from));
    ctx.containerd = c.containerd = await restarting;
    t.log(await c.plugin.waitFor(/registered as 10-procview/, 30_000, from));
    c.cri.close();
    ctx.cri = c.cri = await CriClient.connect(c.dirs.address);
    const id = await limitedContainer(c);
    t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), "MemTotal: 262144 kB");
    t.is(processors(await execSync(c.cri, id, ["cat", "/proc/cpuinfo"])), 1);
  });

  test.serial(
    `containerd ${line}: two procview plugins registered at once (a rolling update's overlap): containers start, each view bound once, by the plugin called first; once one leaves, the other binds them`,
    async (t) => {
      const c = need();
      const second = startPluginProcess(pluginArgs(c.dirs, c.procview));
      try {
        await second.waitFor(/registered as 10-procview/, 15_000);
        const listed = await execa(process.execPath, [CLI_ENTRY, "nri-status"], { reject: false });
        const ours = listed.stdout.split("\n").filter((l) => l.includes(`; socket ${c.dirs.nriSocket},`));
        t.is(ours.filter((l) => /: registered with containerd /.test(l)).length, 2, listed.stdout);
        for (let i = 0; i < 3; i++) {
          const id = await limitedContainer(c);
          t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), "MemTotal: 262144 kB");
          const targets = (await execSync(c.cri, id, ["cat", "/proc/self/mountinfo"]))
            .split("\n")
            .map((l) => l.split(" ")[4])
            .filter((m) => m !== undefined && VIEW_FILES.some((v) => m === `/${v}`));
          t.is(targets.length, 9, targets.join(" "));
          t.is(new Set(targets).size, targets.length, "no target twice");
          const name = new RegExp(`/ctr-${seq}: `);
          const said = [c.plugin, second].map((p) => p.lines.find((l) => name.test(l)) ?? "(nothing)");
          t.is(said.filter((l) => /: 9 views \(/.test(l)).length, 1, said.join("\n"));
          t.is(
            said.filter((l) => /nothing to add: another procview plugin, called before this one, bound 9 views/.test(l)).length,
            1,
            said.join("\n"),
          );
        }
      } finally {
        await second.stop();
      }
      t.truthy(
        second.lines.find((l) => /left the runtime/.test(l)),
        second.lines.join("\n"),
      );
      const id = await limitedContainer(c);
      t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), "MemTotal: 262144 kB", "the one left binds them");
      await c.plugin.waitFor(new RegExp(`/ctr-${seq}: 9 views`), 1000);
    },
  );

  // Last: it stops procview.
  test.serial(
    `containerd ${line}: procview's mount down: the container still starts, with the host's files, and the plugin says why`,
    async (t) => {
      const c = need();
      await c.procview.stop();
      const started = Date.now();
      const id = await limitedContainer(c);
      t.log(`pod + container started in ${Date.now() - started} ms`);
      t.is(memTotal(await execSync(c.cri, id, ["cat", "/proc/meminfo"])), await hostMemTotal());
      t.is(processors(await execSync(c.cri, id, ["cat", "/proc/cpuinfo"])), await hostCpus());
      t.log(
        await c.plugin.waitFor(
          new RegExp(
            `ctr-${seq}: no views, container starts with the host's files: source .* (is not mounted or not readable|did not answer)`,
          ),
          1000,
        ),
      );
    },
  );
}
