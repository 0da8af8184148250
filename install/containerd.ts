// `procview install containerd`: put procview's NRI plugin where containerd starts it and,
// only where needed, turn NRI on in containerd's config; recorded in the install state so
// `procview uninstall` undoes exactly that.
//
// Transactional: everything is decided (and the edited config parsed and checked) before the
// first write; a refusal writes nothing. The state file is written first, naming every file
// and directory about to be written, so a failure half-way leaves nothing uninstall does not know.
import path from "node:path";
import { chmod, mkdir, stat } from "node:fs/promises";
import { Command } from "commander";
import { z } from "zod";
import { exists, missingDirs, readState, sha256, writeAtomic, writeState, type InstallState } from "./state.js";
import {
  ConfigError,
  containerdVersion,
  editNri,
  lineOfVersion,
  NRI_DEFAULTS,
  NRI_PLUGIN,
  nriTable,
  parseContainerdConfig,
  parseContainerdVersion,
  readContainerdSetup,
  setupNri,
  type ContainerdLine,
} from "./containerd-config.js";
import { DEFAULT_PLUGIN_IDX, DEFAULT_PLUGIN_NAME } from "../nri/plugin.js";
import {
  DEFAULT_STATE_FILE,
  DEFAULT_NRI_PLUGIN_DIR,
  DEFAULT_CONTAINERD_CONFIG,
  DEFAULT_NRI_LOG,
  CLI_ENTRY,
  DEFAULT_MOUNTPOINT,
} from "../core/paths.js";
import { describeZodError } from "../core/errors.js";

/** The executable containerd starts from its plugin directory: no PATH, so absolute paths only. */
export function buildLauncher(inv: { node: string; entry: string; source: string; logFile: string }): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    "#!/bin/sh",
    '# procview NRI plugin, written by "procview install containerd"; "procview uninstall" removes it.',
    "# containerd runs this with the plugin socket on fd 3 (NRI_PLUGIN_SOCKET=3) and no PATH.",
    `exec ${q(inv.node)} ${q(inv.entry)} nri --source ${q(inv.source)} --log-file ${q(inv.logFile)}`,
    "",
  ].join("\n");
}

const InstallContainerdSchema = z.object({
  config: z.string().min(1),
  nriSocket: z.string().startsWith("/", "absolute path").optional(),
  pluginDir: z.string().min(1).optional(),
  pluginIdx: z.string().regex(/^[0-9]{2}$/, "two digits"),
  source: z.string().min(1),
  node: z.string().startsWith("/", "absolute path"),
  entry: z.string().optional(),
  logFile: z.string().startsWith("/"),
  state: z.string().min(1),
  containerd: z.string().min(1),
  containerdVersion: z.string().optional(),
  /** false (--no-launcher): only make containerd take external plugins; `procview nri` runs elsewhere (a Kubernetes DaemonSet). */
  launcher: z.boolean().default(true),
});
export type InstallContainerdOptions = z.input<typeof InstallContainerdSchema>;

/** Which containerd line the config is for: asked of the binary (or given), checked against the config's version. */
async function decideLine(
  o: { containerd: string; containerdVersion?: string },
  configVersion: number | undefined,
  file: string,
): Promise<{ line: ContainerdLine; said: string }> {
  const found = o.containerdVersion ? parseContainerdVersion(`containerd ${o.containerdVersion}`) : await containerdVersion(o.containerd);
  const fromConfig = configVersion === undefined ? undefined : lineOfVersion(configVersion);
  if (configVersion !== undefined && configVersion < 2)
    throw new ConfigError(
      `${file} is a version ${configVersion} config (no "version" key, or version = 1): convert it with "containerd config migrate" first`,
    );
  if (configVersion !== undefined && configVersion > 3)
    throw new ConfigError(`${file} has version = ${configVersion}, which no containerd procview knows reads`);
  if (!found) {
    if (fromConfig)
      return { line: fromConfig, said: `containerd not found as ${o.containerd}; version ${configVersion} config: containerd 2` };
    throw new ConfigError(`cannot tell which containerd this is for: ${o.containerd} not found; pass --containerd or --containerd-version`);
  }
  if (fromConfig && fromConfig !== found.line)
    throw new ConfigError(
      `${file} is a version ${configVersion} config (containerd 2), but containerd is ${found.version}, which cannot read it`,
    );
  return { line: found.line, said: `containerd ${found.version}` };
}

export async function installContainerd(raw: InstallContainerdOptions): Promise<string[]> {
  const parsed = InstallContainerdSchema.safeParse(raw);
  if (!parsed.success) throw new Error(describeZodError(parsed.error));
  const o = parsed.data;
  const configFile = path.resolve(o.config);
  const entry = path.resolve(o.entry ?? CLI_ENTRY);
  const source = path.resolve(o.source);
  if (!(await exists(entry))) throw new Error(`${entry} not found; run npm run build first`);
  if (!(await exists(o.node))) throw new Error(`node binary ${o.node} not found`);
  const state = await readState(o.state);

  // ---- decide ----
  const setup = await readContainerdSetup(configFile);
  const { line, said: who } = await decideLine(o, setup.main?.version, configFile);
  const imported = setup.imports.find((c) => nriTable(c.value));
  if (imported)
    throw new ConfigError(
      `NRI is configured in ${imported.file}, which ${configFile} imports; procview edits only ${configFile}: set NRI there by hand, then install with --plugin-dir`,
    );
  const nri = setupNri(setup, line);
  const pluginDir = path.resolve(o.pluginDir ?? nri.pluginPath);
  const wanted: Record<string, string | boolean> = {};
  if (!nri.enabled) wanted.disable = false;
  // Without a launcher the plugin connects to the socket itself, which disable_connections forbids.
  if (!o.launcher && !nri.connections) wanted.disable_connections = false;
  if (o.nriSocket && o.nriSocket !== nri.socketPath) wanted.socket_path = o.nriSocket;
  if (o.launcher && pluginDir !== nri.pluginPath) wanted.plugin_path = pluginDir;

  const where = setup.main ? `in ${configFile} (${nri.because})` : `(${configFile} does not exist: containerd ${line}'s default)`;
  const said: string[] = [`${who}: NRI ${nri.enabled ? "on" : "off"} ${where}, plugins in ${nri.pluginPath}`];
  let after: string | null = null;
  if (Object.keys(wanted).length) {
    // A missing file starts as an empty config of the line's version, then gets NRI's table.
    const base = setup.main ?? parseContainerdConfig(line === "1.7" ? "version = 2\n" : "version = 3\n", configFile);
    after = editNri(base, wanted);
  }
  const before = setup.main?.text ?? null;
  const what = `NRI's settings in [plugins.'${NRI_PLUGIN}']: ${Object.entries(wanted)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join(", ")}`;

  const launcher = path.join(pluginDir, `${o.pluginIdx}-${DEFAULT_PLUGIN_NAME}`);
  if (o.launcher && !state.files.some((f) => f.path === launcher) && (await exists(launcher)))
    throw new Error(`${launcher} exists and was not written by procview install; remove it or choose --plugin-dir/--plugin-idx`);
  const launcherText = buildLauncher({ node: o.node, entry, source, logFile: o.logFile });
  if (!o.launcher && after === null) {
    said.push(
      `nothing to change: containerd ${line} takes external NRI plugins on ${nri.socketPath} as configured, and no launcher was asked for (--no-launcher)`,
    );
    return said;
  }

  // What the state will say, written before any of it exists.
  const newDirs = [
    ...(o.launcher ? await missingDirs(pluginDir) : []),
    ...(after !== null ? await missingDirs(path.dirname(configFile)) : []),
    ...(await missingDirs(path.dirname(path.resolve(o.state)))),
  ].filter((d, i, a) => a.indexOf(d) === i);
  const edits = [...(state.edits ?? [])];
  const previous = edits.findIndex((e) => e.path === configFile);
  if (after !== null) {
    // A re-install keeps the text from before the first install: that is what uninstall restores.
    const rec = { path: configFile, before: previous >= 0 ? edits[previous]!.before : before, sha256: sha256(after), what };
    if (previous >= 0) edits[previous] = rec;
    else edits.push(rec);
  }
  const next: InstallState = {
    ...state,
    files: o.launcher ? [...state.files.filter((f) => f.path !== launcher), { path: launcher, sha256: sha256(launcherText) }] : state.files,
    edits,
  };
  const mode = before !== null ? (await stat(configFile)).mode & 0o7777 : 0o644;

  // ---- write: the state first, then what it names ----
  await writeState(o.state, next, newDirs);
  for (const d of newDirs) {
    await mkdir(d, { mode: 0o755 }).catch(ignoreExisting);
    // 0755 whatever the umask of whoever runs install.
    await chmod(d, 0o755);
  }
  if (o.launcher) {
    await writeAtomic(launcher, launcherText, 0o755);
    said.push(`wrote ${launcher}: containerd starts it at its own start (${o.node} ${entry} nri --source ${source}, log in ${o.logFile})`);
  } else said.push(`no launcher (--no-launcher): "procview nri" connects to ${o.nriSocket ?? nri.socketPath} itself`);
  if (after !== null) {
    await writeAtomic(configFile, after, mode);
    said.push(`${before === null ? "wrote" : "edited"} ${configFile}: ${what}`);
  } else said.push(`${configFile} left as it is: containerd ${line} already runs NRI with plugins in ${pluginDir}`);
  said.push(`recorded in ${o.state}`);
  said.push(
    o.launcher
      ? "restart containerd to apply (systemctl restart containerd): it reads its config and starts the plugins in its plugin directory only when it starts"
      : "restart containerd to apply (systemctl restart containerd): it reads its config only when it starts",
  );
  return said;
}

function ignoreExisting(err: NodeJS.ErrnoException): void {
  if (err.code !== "EEXIST") throw err;
}

export function registerInstallContainerd(install: Command): void {
  install
    .command("containerd")
    .description(
      [
        "make containerd (1.7 or 2.x, through NRI) bind procview's files into every container it creates. Changes:",
        "",
        `  1. writes <plugin dir>/<idx>-${DEFAULT_PLUGIN_NAME} (default ${DEFAULT_NRI_PLUGIN_DIR}/${DEFAULT_PLUGIN_IDX}-${DEFAULT_PLUGIN_NAME}), a /bin/sh launcher that runs "<node> dist/cli/procview.js nri --source <source> --log-file <log-file>" with absolute paths. The plugin directory is the config's plugin_path (NRI's default ${NRI_DEFAULTS.pluginPath} when unset). containerd starts every executable there when it starts, with the NRI socket on fd 3 and no PATH, and stops it when it stops;`,
        `  2. edits --config (default ${DEFAULT_CONTAINERD_CONFIG}) only where NRI would otherwise be off or elsewhere: containerd 1.7 (version 2 config) has NRI off unless disable = false, so that is set; containerd 2.x has it on unless disable = true, so only that is changed. socket_path and plugin_path are set only when --nri-socket or --plugin-dir differ from what containerd uses. The NRI table is found in any TOML form (either quote style, dotted keys, inline table) and edited in place; a missing table is appended; no other line changes. The result is parsed and checked before it is written;`,
        "  3. records both (the launcher's hash, the config as it was) in the state file, before writing them.",
        "",
        'With --no-launcher, no launcher: only the config, where NRI would be off or refuse plugins that connect themselves (disable_connections = true), for nodes whose "procview nri" runs on its own (procview\'s Kubernetes DaemonSet).',
        "",
        "Refused, with nothing written: a version 1 config, a version 3 config with containerd 1.7, NRI settings in a file the config imports, a config the edit would break, and a launcher procview did not write.",
        "",
        'Restart containerd afterwards. "procview uninstall" removes the launcher and puts the config back exactly as it was (unless it was edited since, then it says so and leaves it). Containers created before keep what they had.',
      ].join("\n"),
    )
    .option("--config <file>", "containerd's config file", DEFAULT_CONTAINERD_CONFIG)
    .option("--nri-socket <path>", 'socket_path for NRI, set only when it differs (where "procview nri --socket" connects)')
    .option("--plugin-dir <dir>", "NRI plugin directory (plugin_path), set only when it differs (default: the config's, else NRI's)")
    .option("--plugin-idx <nn>", "two-digit index of the plugin (its order among NRI plugins)", DEFAULT_PLUGIN_IDX)
    .option("--source <dir>", "procview mountpoint (or LXCFS-layout directory) the plugin binds from", DEFAULT_MOUNTPOINT)
    .option("--node <path>", "absolute path of the node binary the launcher runs", process.execPath)
    .option("--entry <path>", "the plugin entry (default: dist/cli/procview.js of this build)")
    .option("--log-file <file>", "the plugin's log (containerd discards a launched plugin's stderr)", DEFAULT_NRI_LOG)
    .option("--state <file>", "where to record what was written", DEFAULT_STATE_FILE)
    .option("--containerd <path>", "the containerd binary asked for its version (1.7 and 2.x differ in NRI's default)", "containerd")
    .option("--containerd-version <version>", "the containerd version, instead of asking the binary")
    .option(
      "--no-launcher",
      'only make containerd run NRI and take plugins that connect to its socket (disable_connections = false); write no launcher. For nodes where "procview nri" runs on its own, e.g. in procview\'s Kubernetes DaemonSet: a launched plugin beside it would decide every container a second time (harmlessly: the one called second finds the views bound and adds nothing) and stay behind when the DaemonSet goes',
    )
    .action(async (opts: InstallContainerdOptions) => {
      for (const line of await installContainerd(opts)) process.stdout.write(`${line}\n`);
    });
}
