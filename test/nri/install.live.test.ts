// `procview install containerd` / `procview uninstall` on real configs of both containerd
// lines: each result parses, says NRI is on, and containerd starts with it and launches the
// plugin; uninstall puts the bytes back. Refusals leave nothing behind. And the whole way
// through CRI: the launched plugin gives a container its views, and comes back after a restart.
import test, { type ExecutionContext } from "ava";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { startProcview } from "../../testbed/procview.js";
import { CriClient, execSync, removeAllPods, runPod, startContainer } from "../support/cri.js";
import {
  configWithoutNri,
  defaultConfig,
  destroyContainerdDir,
  importTestImage,
  makeContainerdDir,
  privatize,
  restartContainerd,
  startContainerd,
  TEST_IMAGE,
  writeContainerdConfig,
  type ContainerdDirs,
  type RunningContainerd,
} from "../support/containerd.js";
import type { ContainerdLine } from "../support/containerd-builds.js";
import { editNri, effectiveNri, nriTable, parseContainerdConfig } from "../../install/containerd-config.js";
import { containerdBuild } from "../support/containerd-builds.js";
import { CLI_ENTRY } from "../../core/paths.js";
import { startPluginProcess, type PluginProcess } from "./support/plugin-process.js";

const NRI = "io.containerd.nri.v1.nri";

interface Work {
  dir: string;
  state: string;
  log: string;
}

async function makeWork(): Promise<Work> {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-nri-install-"));
  return { dir, state: path.join(dir, "state", "installed.json"), log: path.join(dir, "nri.log") };
}

const install = (d: ContainerdDirs, w: Work, source: string, extra: string[] = []) =>
  execa(
    process.execPath,
    [
      CLI_ENTRY,
      "install",
      "containerd",
      "--config",
      d.config,
      "--containerd",
      d.build.containerd,
      "--source",
      source,
      "--state",
      w.state,
      "--log-file",
      w.log,
      ...extra,
    ],
    { all: true, reject: false },
  );

const uninstall = (w: Work) => execa(process.execPath, [CLI_ENTRY, "uninstall", "--state", w.state], { all: true, reject: false });

async function waitForLog(file: string, re: RegExp, timeoutMs: number, context: () => string): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(file, "utf8").catch(() => "");
    if (re.test(text)) return text;
    if (Date.now() > until) throw new Error(`no ${re} in ${file} within ${timeoutMs} ms:\n${text}\n${context()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Lines of `after` not in `before`. */
const added = (before: string, after: string): string[] => {
  const old = new Set(before.split("\n"));
  return after.split("\n").filter((l) => l.trim() !== "" && !old.has(l));
};

/** NRI's settings for the test's private paths, in one TOML form, into the test config (no NRI table of its own). */
function withNri(d: ContainerdDirs, form: "single-quoted" | "dotted" | "inline", disable: boolean | undefined): string {
  const base = configWithoutNri(d);
  const keys: [string, string][] = [
    ...(disable === undefined ? [] : ([["disable", String(disable)]] as [string, string][])),
    ["socket_path", `'${d.nriSocket}'`],
    ["plugin_path", `'${d.pluginDir}'`],
    ["plugin_config_path", `'${d.pluginConfigDir}'`],
  ];
  if (form === "single-quoted") return `${base}\n[plugins.'${NRI}'] # NRI\n${keys.map(([k, v]) => `  ${k} = ${v}`).join("\n")}\n`;
  const inPlugins =
    form === "dotted"
      ? keys.map(([k, v]) => `  '${NRI}'.${k} = ${v}`).join("\n")
      : `  '${NRI}' = { ${keys.map(([k, v]) => `${k} = ${v}`).join(", ")} }`;
  return base.replace(/^\[plugins\]\n/m, `[plugins]\n${inPlugins}\n`);
}

/**
 * Install into `text`, check the result (parses, NRI on, launcher in the effective plugin
 * directory, only `expectAdded` lines new), start containerd with it and see it launch the
 * plugin, then uninstall and compare bytes.
 */
async function installCase(
  t: ExecutionContext,
  line: ContainerdLine,
  make: (d: ContainerdDirs) => Promise<string> | string,
  expectAdded: RegExp[],
) {
  const d = await makeContainerdDir(line);
  const w = await makeWork();
  let containerd: RunningContainerd | undefined;
  try {
    const before = await make(d);
    await writeFile(d.config, before);
    const r = await install(d, w, w.dir);
    t.log(String(r.all));
    t.is(r.exitCode, 0);
    const after = await readFile(d.config, "utf8");
    const parsed = parseContainerdConfig(after, d.config);
    const nri = effectiveNri([nriTable(parsed.value)], line);
    t.true(nri.enabled, nri.because);
    t.is(nri.pluginPath, d.pluginDir);
    const newLines = added(before, after);
    t.is(newLines.length, expectAdded.length, `new lines:\n${newLines.join("\n")}`);
    expectAdded.forEach((re, i) => t.regex(newLines[i] ?? "", re));
    t.true(existsSync(path.join(d.pluginDir, "10-procview")));

    containerd = await startContainerd(d);
    const log = await waitForLog(w.log, /registered as 10-procview/, 20_000, () => containerd?.logTail() ?? "");
    t.regex(log, /started by the runtime as 10-procview on fd 3/);
    await containerd.stop();
    containerd = undefined;

    const un = await uninstall(w);
    t.is(un.exitCode, 0, String(un.all));
    t.is(await readFile(d.config, "utf8"), before, "config restored byte for byte");
    t.false(existsSync(path.join(d.pluginDir, "10-procview")));
    t.false(existsSync(w.state));
  } finally {
    await containerd?.stop();
    await destroyContainerdDir(d);
    await rm(w.dir, { recursive: true, force: true });
  }
}

/** A refusal: non-zero exit with the reason, and not one file or directory written. */
async function refusalCase(
  t: ExecutionContext,
  line: ContainerdLine,
  make: (d: ContainerdDirs) => Promise<string> | string,
  reason: RegExp,
) {
  const d = await makeContainerdDir(line);
  const w = await makeWork();
  try {
    const before = await make(d);
    await writeFile(d.config, before);
    const listing = (await readdir(d.dir)).sort();
    const r = await install(d, w, w.dir);
    t.log(String(r.all));
    t.not(r.exitCode, 0);
    t.regex(String(r.all), reason);
    t.is(await readFile(d.config, "utf8"), before);
    t.deepEqual((await readdir(d.dir)).sort(), listing, "nothing new beside the config (no plugin directory, no launcher)");
    t.deepEqual(await readdir(w.dir), [], "no state file, no state directory");
  } finally {
    await destroyContainerdDir(d);
    await rm(w.dir, { recursive: true, force: true });
  }
}

test("install containerd --help says what it changes on each containerd line", async (t) => {
  const r = await execa(process.execPath, [CLI_ENTRY, "install", "containerd", "--help"]);
  for (const s of [
    "/opt/nri/plugins/10-procview",
    "/etc/containerd/config.toml",
    "disable = false",
    "disable = true",
    "plugin_path",
    "procview uninstall",
    "Restart containerd",
    "2.x",
  ])
    t.true(String(r.stdout).includes(s), s);
});

// containerd 1.7: NRI is off unless disable = false.
test.serial("containerd 1.7, its `containerd config default` (disable = true): only that line changes", (t) =>
  installCase(t, "1.7", async (d) => privatize(await defaultConfig(d), d), [/^ {4}disable = false$/]),
);
test.serial("containerd 1.7, single-quoted NRI table with disable = true: changed in place", (t) =>
  installCase(t, "1.7", (d) => withNri(d, "single-quoted", true), [/^ {2}disable = false$/]),
);
test.serial("containerd 1.7, NRI as dotted keys without disable: a dotted disable = false added beside them", (t) =>
  installCase(t, "1.7", (d) => withNri(d, "dotted", undefined), [/^ {2}'io\.containerd\.nri\.v1\.nri'\.disable = false$/]),
);
test.serial("containerd 1.7, NRI as an inline table with disable = true: changed inside the braces", (t) =>
  installCase(t, "1.7", (d) => withNri(d, "inline", true), [/^ {2}'io\.containerd\.nri\.v1\.nri' = \{ disable = false, socket_path/]),
);

// containerd 2: NRI is on unless disable = true.
test.serial("containerd 2, its `containerd config default` (NRI on): the config is left as it is, the plugin installed", (t) =>
  installCase(t, "2", async (d) => privatize(await defaultConfig(d), d), []),
);
test.serial("containerd 2, single-quoted NRI table with disable = true: changed in place", (t) =>
  installCase(t, "2", (d) => withNri(d, "single-quoted", true), [/^ {2}disable = false$/]),
);
test.serial("containerd 2, NRI as dotted keys without disable: nothing to change", (t) =>
  installCase(t, "2", (d) => withNri(d, "dotted", undefined), []),
);
test.serial("containerd 2, NRI as an inline table with disable = true: changed inside the braces", (t) =>
  installCase(t, "2", (d) => withNri(d, "inline", true), [/^ {2}'io\.containerd\.nri\.v1\.nri' = \{ disable = false, socket_path/]),
);

for (const line of ["1.7", "2"] as const) {
  test(`containerd ${line}'s own \`containerd config default\`: read as containerd reads it, edited only where needed`, async (t) => {
    const build = containerdBuild(line);
    const text = String((await execa(build.containerd, ["config", "default"])).stdout) + "\n";
    const c = parseContainerdConfig(text, "config.toml");
    t.is(c.version, line === "1.7" ? 2 : 3);
    const nri = effectiveNri([nriTable(c.value)], line);
    t.is(nri.enabled, line === "2", nri.because);
    if (line === "1.7") {
      const after = editNri(c, { disable: false });
      t.deepEqual(added(text, after), ["    disable = false"]);
      t.true(effectiveNri([nriTable(parseContainerdConfig(after, "config.toml").value)], line).enabled);
    } else t.is(editNri(c, {}), text);
  });
}

// Refusals.
test.serial(
  "containerd 1.7 with --no-launcher (a node whose plugin runs in the Kubernetes DaemonSet): NRI on and open to plugins that connect, no launcher; an external plugin registers; uninstall restores the bytes",
  async (t) => {
    const d = await makeContainerdDir("1.7");
    const w = await makeWork();
    const procview = await startProcview();
    let containerd: RunningContainerd | undefined;
    let plugin: PluginProcess | undefined;
    try {
      const before = withNri(d, "single-quoted", true).replace(/^(\[plugins\.'[^\n]*\n)/m, "$1  disable_connections = true\n");
      await writeFile(d.config, before);
      const r = await install(d, w, procview.mountPoint, ["--no-launcher"]);
      t.log(String(r.all));
      t.is(r.exitCode, 0);
      const after = await readFile(d.config, "utf8");
      const nri = effectiveNri([nriTable(parseContainerdConfig(after, d.config).value)], "1.7");
      t.true(nri.enabled, nri.because);
      t.true(nri.connections);
      t.deepEqual(added(before, after).sort(), ["  disable = false", "  disable_connections = false"], "both edited in place");
      t.false(existsSync(path.join(d.pluginDir, "10-procview")), "no launcher");

      containerd = await startContainerd(d);
      plugin = startPluginProcess(["--socket", d.nriSocket, "--source", procview.mountPoint, "--runtime-dir", d.dir]);
      await plugin.waitFor(/registered as 10-procview/, 20_000);
      await plugin.stop();
      await containerd.stop();
      containerd = undefined;

      const again = await install(d, w, procview.mountPoint, ["--no-launcher"]);
      t.regex(String(again.all), /nothing to change: containerd 1\.7 takes external NRI plugins/);
      const un = await uninstall(w);
      t.is(un.exitCode, 0, String(un.all));
      t.is(await readFile(d.config, "utf8"), before, "config restored byte for byte");
      t.false(existsSync(w.state));
    } finally {
      await plugin?.stop();
      await containerd?.stop();
      await destroyContainerdDir(d);
      await rm(w.dir, { recursive: true, force: true });
      await procview.stop();
    }
  },
);

test.serial("refused, nothing written: a version 1 config", (t) =>
  refusalCase(t, "1.7", () => `[plugins.cri]\n  sandbox_image = "x"\n`, /version 1 config.*containerd config migrate/),
);
test.serial("refused, nothing written: a version 3 config for containerd 1.7", (t) =>
  refusalCase(t, "1.7", () => "version = 3\n", /version 3 config \(containerd 2\), but containerd is 1\.7/),
);
test.serial("refused, nothing written: a config the edit would break (plugins as an inline table)", (t) =>
  refusalCase(
    t,
    "1.7",
    () => `version = 2\nplugins = { "io.containerd.grpc.v1.cri" = { enable_selinux = false } }\n`,
    /without breaking it/,
  ),
);
test.serial("refused, nothing written: NRI set in a file the config imports", (t) =>
  refusalCase(
    t,
    "2",
    async (d) => {
      await writeFile(path.join(d.dir, "nri.toml"), `version = 3\n[plugins.'${NRI}']\n  disable = true\n`);
      return `version = 3\nimports = ['${path.join(d.dir, "*.toml")}']\n`.replace("*.toml", "nri*.toml");
    },
    /NRI is configured in .*nri\.toml, which .* imports/,
  ),
);
test.serial("refused, nothing written: a config that is not TOML, with where", (t) =>
  refusalCase(t, "2", () => "version = 3\n[plugins\n", /config\.toml:\d+:\d+: not valid TOML/),
);

for (const line of ["1.7", "2"] as const) {
  test.serial(
    `containerd ${line}: install → containerd launches the plugin → a CRI container reads MemTotal: 262144 kB → restart re-registers it → uninstall restores the config`,
    async (t) => {
      const procview = await startProcview();
      const d = await makeContainerdDir(line);
      const w = await makeWork();
      let containerd: RunningContainerd | undefined;
      let cri: CriClient | undefined;
      try {
        // 1.7: no NRI table (install adds it, with the private paths); 2: private paths and no disable key (NRI on).
        const before = await writeContainerdConfig(d, line === "1.7" ? "absent" : "paths");
        const extra = line === "1.7" ? ["--plugin-dir", d.pluginDir, "--nri-socket", d.nriSocket] : [];
        const inst = await install(d, w, procview.mountPoint, extra);
        t.log(String(inst.all));
        t.is(inst.exitCode, 0);
        if (line === "2") t.is(await readFile(d.config, "utf8"), before, "containerd 2's config needs no change");

        containerd = await startContainerd(d);
        await importTestImage(d);
        await waitForLog(w.log, /registered as 10-procview/, 20_000, () => containerd?.logTail() ?? "");
        cri = await CriClient.connect(d.address);
        const pod = await runPod(cri, "installed");
        const id = await startContainer(cri, pod, "app", { image: TEST_IMAGE, memoryBytes: 256 * 1024 * 1024, cpus: 1 });
        t.regex(await execSync(cri, id, ["cat", "/proc/meminfo"]), /^MemTotal:\s+262144 kB$/m);

        // A restart: containerd stops the plugin and launches it again, which registers anew.
        const registrations = (await readFile(w.log, "utf8")).split("registered as 10-procview").length - 1;
        containerd = await restartContainerd(containerd);
        const until = Date.now() + 20_000;
        while ((await readFile(w.log, "utf8")).split("registered as 10-procview").length - 1 <= registrations) {
          if (Date.now() > until) throw new Error(`no new registration after the restart:\n${await readFile(w.log, "utf8")}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        cri.close();
        cri = await CriClient.connect(d.address);
        const id2 = await startContainer(cri, pod, "after-restart", { image: TEST_IMAGE, memoryBytes: 256 * 1024 * 1024, cpus: 1 });
        t.regex(await execSync(cri, id2, ["cat", "/proc/meminfo"]), /^MemTotal:\s+262144 kB$/m);

        await removeAllPods(cri);
        await containerd.stop();
        containerd = undefined;
        const un = await uninstall(w);
        t.log(String(un.all));
        t.is(un.exitCode, 0);
        t.is(await readFile(d.config, "utf8"), before, "config restored byte for byte");
        t.false(existsSync(path.join(d.pluginDir, "10-procview")));
        if (line === "1.7") t.false(existsSync(d.pluginDir), "the plugin directory install created is gone");
        t.false(existsSync(w.state));
      } finally {
        if (cri) {
          await removeAllPods(cri).catch(() => undefined);
          cri.close();
        }
        await containerd?.stop();
        await destroyContainerdDir(d);
        await procview.stop();
        await rm(w.dir, { recursive: true, force: true });
      }
    },
  );
}

test.serial(
  "a failure half-way (the config cannot be written) leaves only what the state file names, and uninstall removes it",
  async (t) => {
    const w = await makeWork();
    const etc = path.join(w.dir, "etc");
    const config = path.join(etc, "config.toml");
    const pluginDir = path.join(w.dir, "plugins");
    const before = `version = 2\n[plugins."${NRI}"]\n  disable = true\n  plugin_path = "${pluginDir}"\n`;
    await execa("mkdir", ["-p", etc]);
    await writeFile(config, before);
    // Immutable: not even root can create the temporary file the config is written through.
    await execa("chattr", ["+i", etc]);
    try {
      const r = await execa(
        process.execPath,
        [
          CLI_ENTRY,
          "install",
          "containerd",
          "--config",
          config,
          "--containerd-version",
          "1.7.24",
          "--source",
          w.dir,
          "--state",
          w.state,
          "--log-file",
          w.log,
        ],
        { all: true, reject: false },
      );
      t.log(String(r.all));
      t.not(r.exitCode, 0);
      const state = JSON.parse(await readFile(w.state, "utf8")) as { files: { path: string }[]; edits: { path: string }[]; dirs: string[] };
      t.true(existsSync(path.join(pluginDir, "10-procview")), "the launcher was written");
      t.deepEqual(
        state.files.map((f) => f.path),
        [path.join(pluginDir, "10-procview")],
      );
      t.deepEqual(
        state.edits.map((e) => e.path),
        [config],
        "the edit is recorded before it is tried",
      );
      t.true(state.dirs.includes(pluginDir));
      t.is(await readFile(config, "utf8"), before);
    } finally {
      await execa("chattr", ["-i", etc]);
    }
    const un = await uninstall(w);
    t.log(String(un.all));
    t.is(un.exitCode, 0);
    t.notRegex(String(un.all), /kept/, "the config never changed: nothing to keep or restore");
    t.is(await readFile(config, "utf8"), before);
    t.deepEqual((await readdir(w.dir)).sort(), ["etc"]);
    await rm(w.dir, { recursive: true, force: true });
  },
);
