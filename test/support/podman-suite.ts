// The real-podman assertions, run against any LXCFS-layout source (Debian's
// lxcfs, procview's own service). Serial: the last tests stop the source.
import test from "ava";
import { rm } from "node:fs/promises";
import path from "node:path";
import { hooksDir } from "./hooks-dir.js";
import { hostMemTotalKb } from "../../testbed/lxcfs.js";
import { assertPodmanWorks, parseView, podmanRun, PROBE_SCRIPT } from "../../testbed/podman.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";

export interface Source {
  mountPoint: string;
  stop(): Promise<void>;
}

export function podmanSuite(label: string, start: () => Promise<Source>): void {
  let source: Source | undefined;
  let rootfs = "";
  let ignoreDir = "";
  let failDir = "";
  let hostMem = 0;

  test.before(async () => {
    rootfs = await busyboxRootfs();
    await assertPodmanWorks(rootfs);
    source = await start();
    ignoreDir = await hooksDir(source.mountPoint, "ignore");
    failDir = await hooksDir(source.mountPoint, "fail");
    hostMem = await hostMemTotalKb();
  });
  test.after.always(async () => {
    await source?.stop();
    for (const d of [ignoreDir, failDir]) if (d) await rm(path.dirname(d), { recursive: true, force: true });
  });

  const run = async (hooks: string, args: string[], annotations?: Record<string, string>) => {
    const r = await podmanRun({ rootfs, hooksDir: hooks, args, annotations, cmd: ["/bin/sh", "-c", PROBE_SCRIPT] });
    if (r.exitCode !== 0) throw new Error(`podman run failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
    return { ...parseView(r.stdout), raw: r.stdout };
  };

  test.serial(`${label}: -m 256m --cpus 1 → 256 MiB, one CPU, fresh uptime`, async (t) => {
    const v = await run(failDir, ["-m", "256m", "--cpus", "1"]);
    t.regex(v.raw, /^meminfo: MemTotal:\s+262144 kB$/m);
    t.is(v.processors, 1);
    t.is(v.online, "0");
    t.true(v.uptimeSeconds < 5, `uptime ${v.uptimeSeconds}`);
  });

  test.serial(`${label}: --cpuset-cpus 1 → one processor`, async (t) => {
    const v = await run(failDir, ["--cpuset-cpus", "1"]);
    t.is(v.processors, 1);
  });

  test.serial(`${label}: no limits → the host's MemTotal`, async (t) => {
    const v = await run(failDir, []);
    t.is(v.memTotalKb, hostMem);
  });

  test.serial(`${label}: io.procview.disable=true → host values`, async (t) => {
    const v = await run(failDir, ["-m", "256m", "--cpus", "1"], { "io.procview.disable": "true" });
    t.is(v.memTotalKb, hostMem);
    t.true(v.uptimeSeconds > 5, `uptime ${v.uptimeSeconds} should be the host's`);
  });

  test.serial(`${label}: source stopped, policy ignore → container starts with host values`, async (t) => {
    await source?.stop();
    const v = await run(ignoreDir, ["-m", "256m"]);
    t.is(v.memTotalKb, hostMem);
  });

  test.serial(`${label}: source stopped, policy fail → podman run fails with the hook's reason`, async (t) => {
    const r = await podmanRun({ rootfs, hooksDir: failDir, args: ["-m", "256m"], cmd: ["/bin/true"] });
    t.not(r.exitCode, 0);
    t.regex(r.stderr, /procview-hook: container \w+: source .* (is not mounted|did not answer)/);
  });
}
