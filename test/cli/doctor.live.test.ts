// `procview doctor` on a healthy setup and on broken ones: the verdict rows a person acts on.
import test from "ava";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { startProcview, PROCVIEW_CLI } from "../../testbed/procview.js";
import { buildHooksFile } from "../../install/hooks-file.js";
import { HOOK_BUNDLE } from "../../core/paths.js";
import { containerdBuild } from "../support/containerd-builds.js";

/** A containers.conf whose hooks_dir is a fresh directory, optionally holding our hooks file. */
function podmanConfig(withHook: boolean): { env: Record<string, string>; containerdConfig: string } {
  const base = mkdtempSync(join(tmpdir(), "procview-doctor-"));
  const hooks = join(base, "hooks.d");
  mkdirSync(hooks);
  if (withHook) writeFileSync(join(hooks, "procview.json"), JSON.stringify(buildHooksFile({ node: process.execPath, hook: HOOK_BUNDLE })));
  writeFileSync(join(base, "containers.conf"), `[engine]\nhooks_dir = ["${hooks}"]\n`);
  const containerdConfig = join(base, "containerd.toml");
  const pluginDir = join(base, "nri-plugins");
  mkdirSync(pluginDir);
  if (withHook) writeFileSync(join(pluginDir, "10-procview"), "#!/bin/sh\n", { mode: 0o755 });
  writeFileSync(containerdConfig, `version = 2\n[plugins."io.containerd.nri.v1.nri"]\n  disable = false\n  plugin_path = "${pluginDir}"\n`);
  return { env: { CONTAINERS_CONF: join(base, "containers.conf") }, containerdConfig };
}

const doctor = (mountPoint: string, setup: ReturnType<typeof podmanConfig>) =>
  execa(process.execPath, [PROCVIEW_CLI, "doctor", "--mountpoint", mountPoint, "--containerd-config", setup.containerdConfig], {
    reject: false,
    env: setup.env,
  });

test.serial("a healthy setup: every check passes and doctor exits 0", async (t) => {
  const service = await startProcview();
  try {
    const result = await doctor(service.mountPoint, podmanConfig(true));
    t.log(result.stdout);
    t.regex(result.stdout, /^ok\s+FUSE\s/m);
    t.regex(result.stdout, /^ok\s+cgroups\s+(v1|v2|hybrid) at/m);
    t.regex(result.stdout, /^ok\s+service\s+.* answering/m);
    t.regex(result.stdout, /^ok\s+keeper\s+pid \d+, [\d.]+ MiB; (standby pid \d+|no standby)/m);
    t.regex(result.stdout, /^ok\s+podman\s+podman version .*hook: installed in /m);
    t.regex(result.stdout, /^ok\s+containerd\s+containerd .*NRI on \(disable = false\), plugin .*\/10-procview$/m);
    t.notRegex(result.stdout, /^FAIL/m);
    t.is(result.exitCode, 0);
  } finally {
    await service.stop();
  }
});

test.serial("no mount and no hook: both are named and doctor exits 1", async (t) => {
  const result = await doctor(mkdtempSync(join(tmpdir(), "procview-nomount-")), podmanConfig(false));
  t.regex(result.stdout, /^FAIL service\s+.*: not-mounted/m);
  t.regex(result.stdout, /^FAIL podman\s+.*hook: no procview\.json in .* \(procview install hooks\)/m);
  t.regex(result.stdout, /^FAIL containerd\s+.*no procview plugin in .*\(procview install containerd\)$/m);
  t.regex(result.stdout, /^ok\s+FUSE\s/m, "what is fine is still said to be fine");
  t.is(result.exitCode, 1);
});

test.serial("cgroup v2 whose root offers no memory controller: doctor names it from cgroup.controllers", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "procview-doctor-v2-"));
  writeFileSync(join(root, "cgroup.controllers"), "cpuset cpu io pids\n");
  const result = await execa(
    process.execPath,
    [PROCVIEW_CLI, "doctor", "--cgroup-root", root, "--mountpoint", mkdtempSync(join(tmpdir(), "procview-nomount-"))],
    { reject: false },
  );
  t.regex(result.stdout, /^FAIL cgroups\s+v2 at .*; controllers: cpu, cpuset, io, pids; missing memory: those views stay the host's$/m);
  t.regex(result.stdout, /^ok\s+cgroup ns\s+the host's/m, "procview's own cgroup namespace is the host's here");
});

test.serial("procview in a private cgroup namespace: doctor and serve say so", async (t) => {
  const doctorResult = await execa(
    "unshare",
    ["--cgroup", process.execPath, PROCVIEW_CLI, "doctor", "--mountpoint", "/nonexistent-procview"],
    {
      reject: false,
    },
  );
  t.regex(
    doctorResult.stdout,
    /^FAIL cgroup ns\s+procview runs in a private cgroup namespace \(cgroup:\[\d+\]\).*host's cgroup namespace$/m,
  );
  t.is(doctorResult.exitCode, 1);

  const mountPoint = mkdtempSync(join(tmpdir(), "procview-cgroupns-"));
  const serve = execa(
    "unshare",
    ["--cgroup", process.execPath, PROCVIEW_CLI, "serve", "--mountpoint", mountPoint, "--foreground", "--no-hook-socket"],
    {
      reject: false,
      all: true,
    },
  );
  // Read on (never stop reading: a closed pipe would fail the keeper's next log line) until it is up.
  let said = "";
  await new Promise<void>((resolve) => {
    serve.all.on("data", (chunk: Buffer) => {
      said += chunk.toString();
      if (/mounted at/.test(said)) resolve();
    });
    void serve.then(() => resolve());
  });
  serve.kill("SIGTERM");
  await serve;
  t.regex(said, /procview runs in a private cgroup namespace \(cgroup:\[\d+\]\)/);
});

for (const [line, expectOk] of [
  ["2", true],
  ["1.7", false],
] as const) {
  test.serial(
    `containerd ${line}: doctor reads a config without disable as containerd ${line} does (${expectOk ? "on" : "off"})`,
    async (t) => {
      const base = mkdtempSync(join(tmpdir(), "procview-doctor-nri-"));
      const pluginDir = join(base, "plugins");
      mkdirSync(pluginDir);
      writeFileSync(join(pluginDir, "10-procview"), "#!/bin/sh\n", { mode: 0o755 });
      const config = join(base, "config.toml");
      // Single quotes, as containerd 2's `config default` writes them.
      writeFileSync(config, `version = ${line === "2" ? 3 : 2}\n[plugins.'io.containerd.nri.v1.nri']\n  plugin_path = '${pluginDir}'\n`);
      const r = await execa(
        process.execPath,
        [PROCVIEW_CLI, "doctor", "--containerd-config", config, "--containerd", containerdBuild(line).containerd],
        { reject: false },
      );
      t.log(r.stdout.split("\n").find((l) => /^\S*\s+containerd\s/.test(l)));
      if (expectOk)
        t.regex(
          r.stdout,
          /^ok\s+containerd\s+containerd .* 2\.\S+ .*NRI on \(no disable key: containerd 2's default is on\), plugin .*\/10-procview$/m,
        );
      else
        t.regex(
          r.stdout,
          /^FAIL containerd\s+containerd .* 1\.7\.\S+ .*NRI off in .* \(no disable key: containerd 1\.7's default is off\) \(procview install containerd\)$/m,
        );
    },
  );
}
