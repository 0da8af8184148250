// What the OCI hook adds to `podman run --rm … true`: runs with a hooks dir holding procview's
// hooks file as `procview install hooks` writes it (procview-hook asking this run's serving
// process, policy fail) alternate with runs with an empty hooks dir, and, for comparison, with
// a hooks file that runs the Node hook directly; same container otherwise. The figures are
// differences of medians.
import { mkdir, mkdtemp, rm, writeFile, access } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildHooksFile } from "../../install/hooks-file.js";
import { readStatus } from "../../fuse/keeper/status.js";
import { podmanRun } from "../../testbed/podman.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { waitFor } from "../../testbed/wait.js";
import type { TargetsContext } from "../context.js";
import { usable } from "../context.js";
import type { HookTiming } from "../results.js";
import { median } from "../stats.js";
import { HOOK_CLIENT, hookSocketPath, statusPath, HOOK_BUNDLE } from "../../core/paths.js";

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
    const nodeDir = path.join(base, "node-hooks.d");
    const withoutDir = path.join(base, "empty-hooks.d");
    for (const dir of [withDir, nodeDir, withoutDir]) await mkdir(dir);
    const config = path.join(base, "hook.json");
    await writeFile(config, "{}");
    await access(HOOK_CLIENT).catch(() => {
      throw new Error(`${HOOK_CLIENT} missing (npm run build compiles it)`);
    });
    const invocation = {
      node: process.execPath,
      hook: HOOK_BUNDLE,
      hookArgs: ["--config", config, "--source", source, "--policy", "fail"],
    };
    const client = { path: HOOK_CLIENT, socket: hookSocketPath(source) };
    await writeFile(path.join(withDir, "procview.json"), JSON.stringify(buildHooksFile({ ...invocation, client }), null, 2));
    await writeFile(path.join(nodeDir, "procview.json"), JSON.stringify(buildHooksFile(invocation), null, 2));
    const hooksServed = () => readStatus(statusPath(source))?.hooksServed ?? 0;

    const rootfs = await busyboxRootfs();
    const run = async (hooksDir: string, cmd: string[]) => {
      const started = process.hrtime.bigint();
      const r = await podmanRun({ rootfs, hooksDir, args: CONTAINER_ARGS, cmd });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (r.exitCode !== 0) throw new Error(`podman run failed (exit ${r.exitCode}): ${r.stderr.trim().split("\n").pop() ?? ""}`);
      return { ms, stdout: r.stdout };
    };

    // The hook must really bind the views, or the timing would be of a hook doing nothing; and
    // the installed form must really be answered by the serving process, not by its Node fallback.
    const servedBefore = hooksServed();
    const probe = await run(withDir, ["/bin/sh", "-c", "grep -c ' fuse.procview ' /proc/self/mountinfo || true"]);
    const bound = Number(probe.stdout.trim());
    if (!(bound > 0))
      throw new Error(`the hook bound no procview file into the container (mountinfo count ${probe.stdout.trim() || "empty"})`);
    // The keeper publishes the serving process's counters once a second.
    await waitFor("the serving process's count of hooks run", () => hooksServed() === servedBefore + 1, { timeoutMs: 5000 }).catch(() => {
      throw new Error(`procview-hook did not get its answer from the serving process on ${client.socket} (it fell back to the Node hook)`);
    });
    const viaNode = await run(nodeDir, ["/bin/sh", "-c", "grep -c ' fuse.procview ' /proc/self/mountinfo || true"]);
    if (Number(viaNode.stdout.trim()) !== bound)
      throw new Error(`the Node hook bound ${viaNode.stdout.trim()} files, procview-hook ${bound}`);
    const none = await run(withoutDir, ["/bin/sh", "-c", "grep -c ' fuse.procview ' /proc/self/mountinfo || true"]);
    if (Number(none.stdout.trim()) !== 0)
      throw new Error("procview files are bound even without the hook (is a procview hook in podman's default hooks dirs?)");
    ctx.log(`hook: binds ${bound} procview files; timing ${ctx.settings.hookRuns} runs with and without`);

    const withMs: number[] = [];
    const nodeMs: number[] = [];
    const withoutMs: number[] = [];
    for (let i = 0; i < ctx.settings.hookRuns; i++) {
      // Rotate which goes first so none always follows another.
      const order: Array<[string, number[]]> = [
        [withDir, withMs],
        [withoutDir, withoutMs],
        [nodeDir, nodeMs],
      ];
      for (let k = 0; k < i % order.length; k++) order.push(order.shift()!);
      for (const [dir, into] of order) into.push((await run(dir, ["/bin/true"])).ms);
    }
    return {
      runs: ctx.settings.hookRuns,
      withMedianMs: median(withMs),
      withoutMedianMs: median(withoutMs),
      nodeHookMedianMs: median(nodeMs),
    };
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
