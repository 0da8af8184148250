// The bundled hook against fake containers (a process in its own mount
// namespace) and fake sources: real binds, real rollbacks, no runtime.
import test from "ava";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { fakeContainer, fakeSource, ORIGINAL, type FakeContainerOptions } from "../support/fake-container.js";
import { hookConfig, runHookBin } from "../support/hook-bin.js";
import { VIEW_FILES } from "../../core/layout.js";

async function withSetup(
  opts: FakeContainerOptions & { meminfo?: "file" | "fifo" | "absent" },
  fn: (c: Awaited<ReturnType<typeof fakeContainer>>, sourceDir: string, configFile: string) => Promise<void>,
) {
  const source = await fakeSource({ meminfo: opts.meminfo });
  const c = await fakeContainer(opts);
  const cfg = await hookConfig({});
  try {
    await fn(c, source.dir, cfg);
  } finally {
    await c.stop();
    await source.stop();
    await rm(path.dirname(cfg), { recursive: true, force: true });
  }
}

const args = (cfg: string, source: string, ...more: string[]) => ["--config", cfg, "--source", source, "--probe-timeout", "1500", ...more];

test("binds every file, root.path relative to the bundle", async (t) => {
  await withSetup({ rootPath: "relative" }, async (c, src, cfg) => {
    const r = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 0, r.stderr);
    t.is(await c.read("/proc/meminfo"), "MemTotal:         123456 kB");
    t.is(await c.read("/sys/devices/system/cpu/online"), "served sys/devices/system/cpu/online");
    t.is((await c.mountsUnderRootfs()).length, VIEW_FILES.length);
    // The host's view of the rootfs is untouched: the binds live in the container's namespace.
    t.is(await readFile(path.join(c.rootfs, "proc/meminfo"), "utf8"), ORIGINAL);
  });
});

test('binds with an absolute root.path, and accepts crun-style state ("created", extra fields)', async (t) => {
  await withSetup({ rootPath: "absolute" }, async (c, src, cfg) => {
    const r = await runHookBin(c.state({ status: "created", rootfs: "/whatever", extra: { a: 1 } }), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 0, r.stderr);
    t.is(await c.read("/proc/cpuinfo"), "served proc/cpuinfo");
  });
});

for (const [name, stdin, pattern] of [
  ["malformed state JSON", '{"ociVersion": ', /OCI state on stdin is not JSON/],
  ["state missing fields", '{"ociVersion":"1.0.2","id":"x"}', /OCI state on stdin is invalid: .*status/],
  [
    "state with a relative bundle",
    '{"ociVersion":"1.0.2","id":"x","status":"creating","pid":1,"bundle":"rel"}',
    /bundle: must be an absolute path/,
  ],
] as const) {
  test(`${name}: policy ignore exits 0, policy fail exits 1, one line each`, async (t) => {
    const cfg = await hookConfig({});
    const ignore = await runHookBin(stdin, ["--config", cfg]);
    t.is(ignore.code, 0);
    t.regex(ignore.stderr, pattern);
    t.regex(ignore.stderr, /policy ignore/);
    const fail = await runHookBin(stdin, ["--config", cfg, "--policy", "fail"]);
    t.is(fail.code, 1);
    t.regex(fail.stderr, pattern);
    t.is(fail.stderr.trim().split("\n").length, 1);
  });
}

test("malformed config.json in the bundle", async (t) => {
  await withSetup({}, async (c, src, cfg) => {
    await writeFile(path.join(c.bundle, "config.json"), '{"root": 5}');
    const r = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 1);
    t.regex(r.stderr, /config\.json is not a valid OCI config: root/);
    await writeFile(path.join(c.bundle, "config.json"), "not json");
    const r2 = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.regex(r2.stderr, /config\.json is not JSON/);
  });
});

test("missing bundle", async (t) => {
  await withSetup({}, async (c, src, cfg) => {
    const r = await runHookBin(c.state({ bundle: "/nonexistent/bundle" }), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 1);
    t.regex(r.stderr, /cannot read \/nonexistent\/bundle\/config\.json/);
  });
});

test("dead pid", async (t) => {
  const done = execa("true");
  await done;
  await withSetup({}, async (c, src, cfg) => {
    const r = await runHookBin(c.state({ pid: done.pid }), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 1);
    t.regex(r.stderr, /container process \d+ is gone/);
  });
});

test("a pid in the hook's own mount namespace is refused (never bind on the host)", async (t) => {
  await withSetup({}, async (c, src, cfg) => {
    const r = await runHookBin(c.state({ pid: process.pid }), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 1);
    t.regex(r.stderr, /shares the hook's mount namespace/);
  });
});

test("skip rules: own bind, maskedPaths, missing target, symlinked target", async (t) => {
  await withSetup(
    {
      mounts: [{ destination: "/proc/meminfo", type: "bind", source: "/etc/hostname" }],
      maskedPaths: ["/proc/swaps"],
      omit: ["proc/diskstats"],
      symlinks: { "proc/stat": "/etc/hostname" },
    },
    async (c, src, cfg) => {
      const hostBefore = await readFile("/etc/hostname", "utf8");
      const r = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
      t.is(r.code, 0, r.stderr);
      t.regex(r.stderr, /skipped \/proc\/meminfo: the container mounts "\/proc\/meminfo" itself/);
      t.regex(r.stderr, /skipped \/proc\/swaps: masked by linux.maskedPaths/);
      t.regex(r.stderr, /skipped \/proc\/diskstats: \/proc\/diskstats does not exist in the container/);
      t.regex(r.stderr, /skipped \/proc\/stat: \/proc\/stat is a symlink in the container/);
      t.is(await c.read("/proc/meminfo"), ORIGINAL.trim());
      t.is(await c.read("/proc/swaps"), ORIGINAL.trim());
      t.is(await c.read("/proc/cpuinfo"), "served proc/cpuinfo");
      const mounts = await c.mountsUnderRootfs();
      t.is(mounts.length, VIEW_FILES.length - 4);
      t.false(mounts.includes(path.join(c.rootfs, "proc/stat")));
      t.is(await readFile("/etc/hostname", "utf8"), hostBefore);
    },
  );
});

test("a symlinked directory on the way to a target is not followed", async (t) => {
  await withSetup({ omit: ["sys/devices/system/cpu/online"] }, async (c, src, cfg) => {
    // rootfs/sys/devices/system/cpu -> a host directory
    const hostDir = await mkdtemp(path.join(tmpdir(), "procview-victim-"));
    await writeFile(path.join(hostDir, "online"), "victim\n");
    await mkdir(path.join(c.rootfs, "sys/devices/system"), { recursive: true });
    await rm(path.join(c.rootfs, "sys/devices/system/cpu"), { recursive: true, force: true });
    await execa("ln", ["-s", hostDir, path.join(c.rootfs, "sys/devices/system/cpu")]);
    const r = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 0, r.stderr);
    t.regex(r.stderr, /skipped \/sys\/devices\/system\/cpu\/online: \/sys\/devices\/system\/cpu is a symlink/);
    t.is(await readFile(path.join(hostDir, "online"), "utf8"), "victim\n");
    t.is((await execa("nsenter", ["-t", String(c.pid), "-m", "cat", path.join(hostDir, "online")])).stdout, "victim");
    await rm(hostDir, { recursive: true });
  });
});

for (const annotations of <Array<Record<string, string>>>[
  { "io.procview.disable": "true" },
  { "io.kubernetes.cri.container-type": "sandbox" },
  { "io.kubernetes.cri-o.ContainerType": "sandbox" },
  { "io.kubernetes.docker.type": "podsandbox" },
]) {
  test(`opt-out: ${Object.keys(annotations)[0]}`, async (t) => {
    await withSetup({ annotations }, async (c, src, cfg) => {
      const r = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
      t.is(r.code, 0, r.stderr);
      t.regex(r.stderr, /no views for/);
      t.deepEqual(await c.mountsUnderRootfs(), []);
    });
  });
}

test("opt-out read from config.json annotations even when the state has none", async (t) => {
  await withSetup({ annotations: { "io.procview.disable": "true" } }, async (c, src, cfg) => {
    const r = await runHookBin(c.state({ annotations: undefined }), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 0);
    t.deepEqual(await c.mountsUnderRootfs(), []);
  });
});

test("a container sharing the host mount namespace gets no views", async (t) => {
  await withSetup({ hostMountNs: true }, async (c, src, cfg) => {
    const r = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.is(r.code, 0);
    t.regex(r.stderr, /shares the host mount namespace/);
  });
});

test("source not mounted (empty directory): ignore starts without views, fail refuses", async (t) => {
  await withSetup({ meminfo: "absent" }, async (c, src, cfg) => {
    const ignore = await runHookBin(c.state(), args(cfg, src));
    t.is(ignore.code, 0);
    t.regex(ignore.stderr, /source .* is not mounted or not readable.*policy ignore/);
    t.deepEqual(await c.mountsUnderRootfs(), []);
    const fail = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.is(fail.code, 1);
    t.regex(fail.stderr, /^procview-hook: container fake-.*source .* is not mounted or not readable/);
  });
});

test("a source whose reads hang is given up on within the probe timeout", async (t) => {
  await withSetup({ meminfo: "fifo" }, async (c, src, cfg) => {
    const ignore = await runHookBin(c.state(), args(cfg, src));
    t.is(ignore.code, 0);
    t.regex(ignore.stderr, /did not answer within 1500 ms/);
    t.true(ignore.ms < 4500, `took ${ignore.ms} ms`);
    const fail = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"));
    t.is(fail.code, 1);
    t.regex(fail.stderr, /did not answer within 1500 ms/);
    t.true(fail.ms < 4500, `took ${fail.ms} ms`);
    t.deepEqual(await c.mountsUnderRootfs(), []);
  });
});

test("all or nothing (nsenter path): a failing bind undoes the ones already made", async (t) => {
  await withSetup({}, async (c, src, cfg) => {
    // Mount a tmpfs over the source's sys/ on the host only: the container's
    // namespace (private, copied earlier) does not see it, so the source file
    // exists for the hook's checks but the last bind fails inside the container.
    const sysDir = path.join(src, "sys");
    await execa("mount", ["-t", "tmpfs", "tmpfs", sysDir]);
    try {
      await mkdir(path.join(sysDir, "devices/system/cpu"), { recursive: true });
      await writeFile(path.join(sysDir, "devices/system/cpu/online"), "0\n");
      // Hide the file in the container's view of the source too.
      await execa("nsenter", ["-t", String(c.pid), "-m", "rm", "-f", path.join(src, "sys/devices/system/cpu/online")]);
      // This failure lives in the container's namespace only, where the nsenter path resolves
      // its sources; the native helper takes them from the host's (see helper tests).
      const nsenterPath = { PROCVIEW_NSMOUNT: "" };
      const fail = await runHookBin(c.state(), args(cfg, src, "--policy", "fail"), nsenterPath);
      t.is(fail.code, 1);
      t.regex(fail.stderr, /bind .*sys\/devices\/system\/cpu\/online .* failed/);
      t.deepEqual(await c.mountsUnderRootfs(), [], "earlier binds were undone");
      const ignore = await runHookBin(c.state(), args(cfg, src), nsenterPath);
      t.is(ignore.code, 0);
      t.regex(ignore.stderr, /failed.*policy ignore/);
      t.deepEqual(await c.mountsUnderRootfs(), []);
      t.is(await c.read("/proc/meminfo"), ORIGINAL.trim());
    } finally {
      await execa("umount", [sysDir], { reject: false });
    }
  });
});

test("policy comes from the config file; flags win over it", async (t) => {
  await withSetup({ meminfo: "absent" }, async (c, src) => {
    const cfg = await hookConfig({ source: src, policy: "fail" });
    const r = await runHookBin(c.state(), ["--config", cfg]);
    t.is(r.code, 1);
    const r2 = await runHookBin(c.state(), ["--config", cfg, "--policy", "ignore"]);
    t.is(r2.code, 0);
  });
});

test("an invalid config file is reported, under the policy from the flags", async (t) => {
  const cfg = await hookConfig({ sourc: "/typo" });
  const r = await runHookBin("{}", ["--config", cfg, "--policy", "fail"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /config .*hook\.json is invalid: .*sourc/);
  const missing = await runHookBin("{}", ["--config", "/nonexistent/hook.json", "--policy", "fail"]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /cannot read config \/nonexistent\/hook\.json/);
  const rel = await runHookBin("{}", ["--config", cfg.replace("hook.json", "x.json"), "--source", "relative/dir", "--policy", "fail"]);
  t.is(rel.code, 1);
});
