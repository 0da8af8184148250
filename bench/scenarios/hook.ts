// What the OCI hook adds to `podman run --rm … true`: runs with a hooks dir holding procview's
// hooks file (the hook bound to this run's procview mount, policy fail) alternate with runs
// with an empty hooks dir, same container otherwise; the figure is the difference of medians.
import { mkdir, mkdtemp, rm, writeFile, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildHooksFile } from "../../install/hooks-file.js";
import { HOOK_BUNDLE } from "../../test/support/hook-bin.js";
import { podmanRun } from "../../test/support/podman.js";
import { busyboxRootfs } from "../../test/support/rootfs.js";
import type { TargetsContext } from "../context.js";
import { usable } from "../context.js";
import type { HookTiming } from "../results.js";
import { median } from "../stats.js";

const CONTAINER_ARGS = ["-m", "256m", "--cpus", "1"];

export async function hookScenario(ctx: TargetsContext): Promise<HookTiming> {
  const target = usable(ctx, "procview");
  if (!target.ok) throw new Error(`procview: ${target.why}`);
  await access(HOOK_BUNDLE).catch(() => {
    throw new Error(`${HOOK_BUNDLE} missing (npm run build bundles it)`);
  });
  const source = path.dirname(path.dirname(target.value.path("proc/meminfo")));
  const base = await mkdtemp(path.join(tmpdir(), "procview-bench-hooks-"));
  try {
    // Same shape as test/support/podman-suite.ts's hooks dir: only procview.json (podman parses
    // every *.json there) from install/hooks-file.ts, and an empty hook config beside it.
    const withDir = path.join(base, "hooks.d");
    const withoutDir = path.join(base, "empty-hooks.d");
    await mkdir(withDir);
    await mkdir(withoutDir);
    const config = path.join(base, "hook.json");
    await writeFile(config, "{}");
    const file = buildHooksFile({ node: process.execPath, hook: HOOK_BUNDLE, hookArgs: ["--config", config, "--source", source, "--policy", "fail"] });
    await writeFile(path.join(withDir, "procview.json"), JSON.stringify(file, null, 2));

    const rootfs = await busyboxRootfs();
    const run = async (hooksDir: string, cmd: string[]) => {
      const started = process.hrtime.bigint();
      const r = await podmanRun({ rootfs, hooksDir, args: CONTAINER_ARGS, cmd });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (r.exitCode !== 0) throw new Error(`podman run failed (exit ${r.exitCode}): ${r.stderr.trim().split("\n").pop() ?? ""}`);
      return { ms, stdout: r.stdout };
    };

    // The hook must really bind the views, or the timing would be of a hook doing nothing.
    const probe = await run(withDir, ["/bin/sh", "-c", "grep -c ' fuse.procview ' /proc/self/mountinfo || true"]);
    const bound = Number(probe.stdout.trim());
    if (!(bound > 0)) throw new Error(`the hook bound no procview file into the container (mountinfo count ${probe.stdout.trim() || "empty"})`);
    const none = await run(withoutDir, ["/bin/sh", "-c", "grep -c ' fuse.procview ' /proc/self/mountinfo || true"]);
    if (Number(none.stdout.trim()) !== 0) throw new Error("procview files are bound even without the hook (is a procview hook in podman's default hooks dirs?)");
    ctx.log(`hook: binds ${bound} procview files; timing ${ctx.settings.hookRuns} runs with and without`);

    const withMs: number[] = [];
    const withoutMs: number[] = [];
    for (let i = 0; i < ctx.settings.hookRuns; i++) {
      // Alternate which goes first so neither always follows the other.
      const pair: Array<[string, number[]]> = [
        [withDir, withMs],
        [withoutDir, withoutMs],
      ];
      if (i % 2 === 1) pair.reverse();
      for (const [dir, into] of pair) into.push((await run(dir, ["/bin/true"])).ms);
    }
    return { runs: ctx.settings.hookRuns, withMedianMs: median(withMs), withoutMedianMs: median(withoutMs) };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
