// `procview install containerd`: turn NRI on in containerd's config and put
// procview's plugin where containerd starts it, recorded in the install state
// so `procview uninstall` undoes exactly that.
import path from "node:path";
import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { z } from "zod";
import { exists, mkdirTracked, readState, sha256, writeAtomic, writeState } from "./state.js";
import { DEFAULT_PLUGIN_IDX, DEFAULT_PLUGIN_NAME } from "../nri/plugin.js";
import {
  DEFAULT_STATE_FILE,
  DEFAULT_NRI_SOCKET,
  DEFAULT_NRI_PLUGIN_DIR,
  DEFAULT_CONTAINERD_CONFIG,
  DEFAULT_NRI_LOG,
  CLI_ENTRY,
  DEFAULT_MOUNTPOINT,
} from "../core/paths.js";
import { describeZodError } from "../core/errors.js";

export const NRI_SECTION = '[plugins."io.containerd.nri.v1.nri"]';

export interface NriSettings {
  socket: string;
  pluginDir: string;
}

const tomlString = (s: string): string => JSON.stringify(s); // a TOML basic string is JSON's for these paths

/**
 * containerd 1.7's config (version 2) with the NRI plugin enabled: the
 * [plugins."io.containerd.nri.v1.nri"] table gets disable = false, socket_path
 * and plugin_path (added when missing, replaced when set otherwise); every
 * other line stays as it was. Returns the text unchanged when nothing needs changing.
 */
export function enableNriInConfig(text: string | null, s: NriSettings): string {
  const wanted: [string, string][] = [
    ["disable", "false"],
    ["socket_path", tomlString(s.socket)],
    ["plugin_path", tomlString(s.pluginDir)],
  ];
  const block = `\n# Added by "procview install containerd" ("procview uninstall" restores this file).\n${NRI_SECTION}\n${wanted.map(([k, v]) => `  ${k} = ${v}`).join("\n")}\n`;
  if (text === null || text.trim() === "") return `version = 2\n${block}`;
  const version = /^\s*version\s*=\s*(\d+)/m.exec(text)?.[1];
  if (version === "3")
    throw new Error(
      'this is a containerd 2.x config (version = 3); NRI is on by default there: check [plugins."io.containerd.nri.v1.nri"] by hand',
    );
  if (version !== "2")
    throw new Error(
      'this config has no "version = 2" line (a containerd 1.x version 1 config); convert it with "containerd config migrate" first',
    );
  const lines = text.split("\n");
  const header = lines.findIndex((l) => /^\s*\[\s*plugins\s*\.\s*"io\.containerd\.nri\.v1\.nri"\s*\]\s*(#.*)?$/.test(l));
  if (header < 0) return text.replace(/\n*$/, "\n") + block;
  let end = header + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
  const indent = /^(\s*)/.exec(lines[header]!)![1]! + "  ";
  const out = [...lines];
  const missing: string[] = [];
  for (const [key, value] of wanted) {
    const re = new RegExp(`^(\\s*)${key}\\s*=\\s*([^#]*?)\\s*(#.*)?$`);
    let found = false;
    for (let i = header + 1; i < end; i++) {
      const m = re.exec(out[i]!);
      if (!m) continue;
      found = true;
      if (m[2] !== value) out[i] = `${m[1]}${key} = ${value}${m[3] ? " " + m[3] : ""}`;
    }
    if (!found) missing.push(`${indent}${key} = ${value}`);
  }
  out.splice(header + 1, 0, ...missing);
  return out.join("\n");
}

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
  nriSocket: z.string().startsWith("/"),
  pluginDir: z.string().min(1),
  pluginIdx: z.string().regex(/^[0-9]{2}$/, "two digits"),
  source: z.string().min(1),
  node: z.string().startsWith("/", "absolute path"),
  entry: z.string().optional(),
  logFile: z.string().startsWith("/"),
  state: z.string().min(1),
});
export type InstallContainerdOptions = z.input<typeof InstallContainerdSchema>;

export async function installContainerd(raw: InstallContainerdOptions): Promise<string[]> {
  const parsed = InstallContainerdSchema.safeParse(raw);
  if (!parsed.success) throw new Error(describeZodError(parsed.error));
  const o = parsed.data;
  const config = path.resolve(o.config);
  const pluginDir = path.resolve(o.pluginDir);
  const entry = path.resolve(o.entry ?? CLI_ENTRY);
  if (!(await exists(entry))) throw new Error(`${entry} not found; run npm run build first`);
  if (!(await exists(o.node))) throw new Error(`node binary ${o.node} not found`);
  const state = await readState(o.state);
  const said: string[] = [];

  // 1. The plugin launcher.
  const launcher = path.join(pluginDir, `${o.pluginIdx}-${DEFAULT_PLUGIN_NAME}`);
  if (!state.files.some((f) => f.path === launcher) && (await exists(launcher))) {
    throw new Error(`${launcher} exists and was not written by procview install; remove it or choose --plugin-dir/--plugin-idx`);
  }
  const launcherText = buildLauncher({ node: o.node, entry, source: path.resolve(o.source), logFile: o.logFile });
  const createdDirs = await mkdirTracked(pluginDir);
  await writeAtomic(launcher, launcherText, 0o755);
  said.push(
    `wrote ${launcher}: containerd starts it at its own start (${o.node} ${entry} nri --source ${path.resolve(o.source)}, log in ${o.logFile})`,
  );

  // 2. NRI on in containerd's config.
  let before: string | null;
  try {
    before = await readFile(config, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    before = null;
  }
  const after = enableNriInConfig(before, { socket: o.nriSocket, pluginDir });
  const edits = [...(state.edits ?? [])];
  const previous = edits.findIndex((e) => e.path === config);
  const what = `NRI enabled in ${NRI_SECTION} (disable = false, socket_path = ${tomlString(o.nriSocket)}, plugin_path = ${tomlString(pluginDir)})`;
  if (after !== before) {
    const configDirs = await mkdirTracked(path.dirname(config));
    createdDirs.push(...configDirs);
    await writeAtomic(config, after, "keep");
    // A re-install keeps the text from before the first install: that is what uninstall restores.
    const original = previous >= 0 ? edits[previous]!.before : before;
    const entryRec = { path: config, before: original, sha256: sha256(after), what };
    if (previous >= 0) edits[previous] = entryRec;
    else edits.push(entryRec);
    said.push(`${before === null ? "wrote" : "edited"} ${config}: ${what}`);
  } else {
    if (previous >= 0) edits[previous] = { ...edits[previous]!, sha256: sha256(after) };
    said.push(`${config} already enables NRI with these settings; left as it is`);
  }
  const files = [...state.files.filter((f) => f.path !== launcher), { path: launcher, sha256: sha256(launcherText) }];
  await writeState(o.state, { ...state, files, edits }, createdDirs);
  said.push(`recorded in ${o.state}`);
  said.push(
    "restart containerd to apply (systemctl restart containerd): it reads its config and starts the plugins in its plugin directory only when it starts",
  );
  return said;
}

export function registerInstallContainerd(install: Command): void {
  install
    .command("containerd")
    .description(
      [
        "make containerd (1.7, through NRI) bind procview's files into every container it creates. Changes:",
        "",
        `  1. writes <plugin-dir>/<idx>-${DEFAULT_PLUGIN_NAME} (default ${DEFAULT_NRI_PLUGIN_DIR}/${DEFAULT_PLUGIN_IDX}-${DEFAULT_PLUGIN_NAME}), a /bin/sh launcher that runs "<node> dist/cli/procview.js nri --source <source> --log-file <log-file>" with absolute paths. containerd starts every executable there when it starts, with the NRI socket on fd 3 and no PATH, and stops it when it stops;`,
        `  2. edits --config (default ${DEFAULT_CONTAINERD_CONFIG}, created with "version = 2" if missing): in ${NRI_SECTION} sets disable = false, socket_path and plugin_path, adding the table when absent; no other line changes;`,
        "  3. records both (the launcher's hash, the config as it was) in the state file.",
        "",
        'Restart containerd afterwards. "procview uninstall" removes the launcher and puts the config back exactly as it was (unless it was edited since, then it says so and leaves it). Containers created before keep what they had.',
      ].join("\n"),
    )
    .option("--config <file>", "containerd's config file", DEFAULT_CONTAINERD_CONFIG)
    .option(
      "--nri-socket <path>",
      'socket_path for NRI (where external plugins such as "procview nri --socket" connect)',
      DEFAULT_NRI_SOCKET,
    )
    .option("--plugin-dir <dir>", "containerd's NRI plugin directory (plugin_path)", DEFAULT_NRI_PLUGIN_DIR)
    .option("--plugin-idx <nn>", "two-digit index of the plugin (its order among NRI plugins)", DEFAULT_PLUGIN_IDX)
    .option("--source <dir>", "procview mountpoint (or LXCFS-layout directory) the plugin binds from", DEFAULT_MOUNTPOINT)
    .option("--node <path>", "absolute path of the node binary the launcher runs", process.execPath)
    .option("--entry <path>", "the plugin entry (default: dist/cli/procview.js of this build)")
    .option("--log-file <file>", "the plugin's log (containerd discards a launched plugin's stderr)", DEFAULT_NRI_LOG)
    .option("--state <file>", "where to record what was written", DEFAULT_STATE_FILE)
    .action(async (opts: InstallContainerdOptions) => {
      for (const line of await installContainerd(opts)) process.stdout.write(`${line}\n`);
    });
}
