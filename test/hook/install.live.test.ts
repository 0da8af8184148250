// `procview install hooks` into the directory podman really reads, a plain
// `podman run` (no --hooks-dir) that gets the views, then `procview uninstall`
// restoring that directory exactly as it was.
import test from "ava";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { defaultInstallDir, parseHooksDir } from "../../install/hooks-dir.js";
import { HooksFileSchema } from "../../install/hooks-file.js";
import { readStatus } from "../../fuse/keeper/status.js";
import { startLxcfs } from "../../testbed/lxcfs.js";
import { PROCVIEW_CLI, startProcview } from "../../testbed/procview.js";
import type { RunningServer } from "../../testbed/fuse-server.js";
import { assertPodmanWorks, parseView, podmanRun, PROBE_SCRIPT } from "../../testbed/podman.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { HOOK_CLIENT, hookSocketPath, statusPath, HOOK_BUNDLE } from "../../core/paths.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, "..", "..", "..");

async function snapshot(dir: string): Promise<string[] | "absent"> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return "absent";
  }
}

test("the committed hooks.d/procview.json is a valid hooks file", async (t) => {
  const json = HooksFileSchema.parse(JSON.parse(await readFile(path.join(REPO, "hooks.d", "procview.json"), "utf8")));
  t.deepEqual(json.stages, ["prestart"]);
  t.true(json.hook.path.startsWith("/"));
});

test("containers.conf hooks_dir parsing", (t) => {
  t.is(parseHooksDir('[engine]\n#hooks_dir = ["/x"]\n'), undefined);
  t.deepEqual(parseHooksDir("[engine]\nhooks_dir = [\n  \"/a\", # one\n  '/b',\n]\n"), ["/a", "/b"]);
  t.is(parseHooksDir('[containers]\nhooks_dir = ["/a"]\n'), undefined);
});

for (const [label, start] of [
  ["procview", () => startProcview()],
  ["lxcfs", startLxcfs],
] as const) {
  test.serial(`${label} as the source: install hooks → plain podman run gets the views → uninstall restores the directory`, async (t) => {
    const rootfs = await busyboxRootfs();
    await assertPodmanWorks(rootfs);
    const dir = defaultInstallDir();
    const before = await snapshot(dir);
    const stateDir = await mkdtemp(path.join(tmpdir(), "procview-installstate-"));
    const stateFile = path.join(stateDir, "installed.json");
    let source: RunningServer | undefined;
    t.teardown(async () => {
      await execa(process.execPath, [PROCVIEW_CLI, "uninstall", "--state", stateFile], { reject: false });
      await source?.stop();
      await rm(stateDir, { recursive: true, force: true });
    });
    source = await start();
    // policy ignore: should this test die before its teardown, containers on the machine still start.
    const inst = await execa(
      process.execPath,
      [PROCVIEW_CLI, "install", "hooks", "--source", source.mountPoint, "--policy", "ignore", "--state", stateFile],
      { reject: false },
    );
    t.is(inst.exitCode, 0, inst.stderr);
    t.regex(inst.stdout, new RegExp(`wrote ${dir}/procview.json`));
    const written = HooksFileSchema.parse(JSON.parse(await readFile(path.join(dir, "procview.json"), "utf8")));
    // The C client, asking the serving process of the source and running the Node hook itself
    // when nobody answers (with lxcfs as the source, nobody ever does).
    t.is(written.hook.path, HOOK_CLIENT);
    t.deepEqual(written.hook.args.slice(0, 8), [
      "procview-hook",
      "--socket",
      hookSocketPath(source.mountPoint),
      "--node",
      process.execPath,
      "--bundle",
      HOOK_BUNDLE,
      "--",
    ]);

    const again = await execa(
      process.execPath,
      [PROCVIEW_CLI, "install", "hooks", "--source", source.mountPoint, "--policy", "ignore", "--state", stateFile],
      { reject: false },
    );
    t.is(again.exitCode, 0, "reinstalling over our own file is fine");

    const served = () => readStatus(statusPath(source.mountPoint))?.hooksServed ?? 0;
    const servedBefore = served();
    const r = await podmanRun({ rootfs, args: ["-m", "256m", "--cpus", "1"], cmd: ["/bin/sh", "-c", PROBE_SCRIPT] });
    t.is(r.exitCode, 0, r.stderr);
    t.regex(r.stdout, /^meminfo: MemTotal:\s+262144 kB$/m);
    t.is(parseView(r.stdout).processors, 1);
    if (label === "procview") {
      // The keeper publishes the count once a second: the serving process, not the fallback, did the work.
      let now = served();
      for (let waited = 0; now === servedBefore && waited < 3000; waited += 100) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        now = served();
      }
      t.is(now, servedBefore + 1, "the hook ran in the serving process");
    }

    const un = await execa(process.execPath, [PROCVIEW_CLI, "uninstall", "--state", stateFile], { reject: false });
    t.is(un.exitCode, 0, un.stderr);
    t.deepEqual(await snapshot(dir), before, `${dir} is back to its previous state`);
    await t.throwsAsync(readFile(stateFile), undefined, "state file removed");
  });
}

test.serial("install refuses to overwrite a procview.json it did not write", async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-foreign-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await execa("sh", ["-c", 'echo "{}" > "$1"', "sh", path.join(dir, "procview.json")]);
  const r = await execa(process.execPath, [PROCVIEW_CLI, "install", "hooks", "--dir", dir, "--state", path.join(dir, "state.json")], {
    reject: false,
  });
  t.is(r.exitCode, 1);
  t.regex(r.stderr, /exists and was not written by procview install/);
  t.is(await readFile(path.join(dir, "procview.json"), "utf8"), "{}\n");
});
