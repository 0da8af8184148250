// `procview install containerd` / `procview uninstall`: the config edit as a
// pure function, then for real: install into a private containerd's config and
// plugin directory, let containerd launch the plugin (fd 3, no PATH), start a
// container through CRI, and uninstall back to the exact bytes.
import test from "ava";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { enableNriInConfig } from "../../install/containerd.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { startProcview } from "../../testbed/procview.js";
import { CriClient, execSync, removeAllPods, runPod, startContainer } from "./support/cri.js";
import {
  destroyContainerdDir,
  importImage,
  makeContainerdDir,
  startContainerd,
  TEST_IMAGE,
  writeContainerdConfig,
} from "./support/containerd.js";
import { writeOciImage } from "./support/oci-image.js";
import { CLI_ENTRY } from "../../core/paths.js";

const S = { socket: "/var/run/nri/nri.sock", pluginDir: "/opt/nri/plugins" };
// cli/doctor.ts's test for "NRI enabled".
const doctorSaysEnabled = (text: string): boolean => /\[plugins\."io\.containerd\.nri\.v1\.nri"\][^[]*disable\s*=\s*false/s.test(text);

test("config edit: a missing or empty file becomes a version 2 config with the NRI table", (t) => {
  const out = enableNriInConfig(null, S);
  t.true(out.startsWith("version = 2\n"));
  t.regex(
    out,
    /\[plugins\."io\.containerd\.nri\.v1\.nri"\]\n {2}disable = false\n {2}socket_path = "\/var\/run\/nri\/nri.sock"\n {2}plugin_path = "\/opt\/nri\/plugins"\n/,
  );
  t.true(doctorSaysEnabled(out));
  t.is(enableNriInConfig("  \n", S), out);
});

test("config edit: Debian's default config gets the table appended, every other byte kept", (t) => {
  const debian = `version = 2\n\n[plugins]\n  [plugins."io.containerd.grpc.v1.cri"]\n    [plugins."io.containerd.grpc.v1.cri".cni]\n      bin_dir = "/usr/lib/cni"\n`;
  const out = enableNriInConfig(debian, S);
  t.true(out.startsWith(debian));
  t.true(doctorSaysEnabled(out));
  t.is(enableNriInConfig(out, S), out, "idempotent");
});

test("config edit: an existing NRI table is changed in place (disable = true → false, keys added), comments and other keys kept", (t) => {
  const text = `version = 2\n[plugins."io.containerd.nri.v1.nri"]\n  disable = true # off for now\n  plugin_registration_timeout = "5s"\n  socket_path = "/run/other.sock"\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_threshold = 0.02\n`;
  const out = enableNriInConfig(text, S);
  t.is(
    out,
    `version = 2\n[plugins."io.containerd.nri.v1.nri"]\n  plugin_path = "/opt/nri/plugins"\n  disable = false # off for now\n  plugin_registration_timeout = "5s"\n  socket_path = "/var/run/nri/nri.sock"\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_threshold = 0.02\n`,
  );
  t.is(enableNriInConfig(out, S), out);
});

test("config edit: version 3 (containerd 2) and version 1 configs are refused with a reason", (t) => {
  t.throws(() => enableNriInConfig("version = 3\n", S), { message: /containerd 2\.x/ });
  t.throws(() => enableNriInConfig("[plugins.cri]\n  x = 1\n", S), { message: /version = 2/ });
});

test("install containerd --help says what it changes", async (t) => {
  const r = await execa(process.execPath, [CLI_ENTRY, "install", "containerd", "--help"]);
  for (const s of [
    "/opt/nri/plugins/10-procview",
    "/etc/containerd/config.toml",
    "disable = false",
    "socket_path",
    "plugin_path",
    "procview uninstall",
    "Restart containerd",
  ])
    t.true(String(r.stdout).includes(s), s);
});

test("install containerd → containerd launches the plugin → a CRI container gets its views; uninstall restores the exact config", async (t) => {
  const procview = await startProcview();
  const d = await makeContainerdDir();
  const work = await mkdtemp(path.join(tmpdir(), "procview-nri-install-"));
  const state = path.join(work, "installed.json");
  const log = path.join(work, "nri.log");
  let containerd: Awaited<ReturnType<typeof startContainerd>> | undefined;
  let cri: CriClient | undefined;
  try {
    await writeContainerdConfig(d, { nri: false });
    const before = await readFile(d.config, "utf8");
    const inst = await execa(
      process.execPath,
      [
        CLI_ENTRY,
        "install",
        "containerd",
        "--config",
        d.config,
        "--nri-socket",
        d.nriSocket,
        "--plugin-dir",
        d.pluginDir,
        "--source",
        procview.mountPoint,
        "--state",
        state,
        "--log-file",
        log,
      ],
      { all: true, reject: false },
    );
    t.log(String(inst.all));
    t.is(inst.exitCode, 0);
    const launcher = path.join(d.pluginDir, "10-procview");
    t.true(existsSync(launcher));
    t.true(doctorSaysEnabled(await readFile(d.config, "utf8")));

    containerd = await startContainerd(d);
    const tarball = path.join(d.dir, "image.tar");
    await writeOciImage({ rootfs: await busyboxRootfs(), name: TEST_IMAGE, cmd: ["/bin/sleep", "86400"] }, tarball);
    await importImage(d, tarball);
    const until = Date.now() + 15_000;
    let text = "";
    while (Date.now() < until && !/registered as 10-procview/.test(text)) {
      text = await readFile(log, "utf8").catch(() => "");
      await new Promise((r) => setTimeout(r, 100));
    }
    t.regex(text, /started by the runtime as 10-procview on fd 3/, `plugin log:\n${text}\ncontainerd:\n${containerd.logTail()}`);
    t.regex(text, /registered as 10-procview/);

    cri = await CriClient.connect(d.address);
    const pod = await runPod(cri, "installed");
    const id = await startContainer(cri, pod, "app", { image: TEST_IMAGE, memoryBytes: 256 * 1024 * 1024, cpus: 1 });
    const meminfo = await execSync(cri, id, ["cat", "/proc/meminfo"]);
    t.regex(meminfo, /^MemTotal:\s+262144 kB$/m);

    await removeAllPods(cri);
    await containerd.stop();
    containerd = undefined;
    const un = await execa(process.execPath, [CLI_ENTRY, "uninstall", "--state", state], { all: true, reject: false });
    t.log(String(un.all));
    t.is(un.exitCode, 0);
    t.is(await readFile(d.config, "utf8"), before, "config restored byte for byte");
    t.false(existsSync(launcher));
    t.false(existsSync(d.pluginDir), "the plugin directory install created is gone");
    t.false(existsSync(state));
  } finally {
    if (cri) {
      await removeAllPods(cri).catch(() => undefined);
      cri.close();
    }
    await containerd?.stop();
    await destroyContainerdDir(d);
    await procview.stop();
    await rm(work, { recursive: true, force: true });
  }
});
