// `procview install hooks` and `procview uninstall`.
import { Command, Option } from "commander";
import path from "node:path";
import { buildHooksFile, hookCommand, type HookInvocation } from "./hooks-file.js";
import { defaultInstallDir, ETC_HOOKS_DIR, PODMAN_DEFAULT_HOOKS_DIR } from "./hooks-dir.js";
import { registerInstallService, stopServiceIfInstalled } from "./service.js";
import { exists, mkdirTracked, readState, sha256, uninstall, writeAtomic, writeState } from "./state.js";
import { HOOK_CLIENT, hookSocketPath, DEFAULT_STATE_FILE, HOOK_BUNDLE, DEFAULT_MOUNTPOINT } from "../core/paths.js";
import { registerInstallContainerd } from "./containerd.js";

export const HOOKS_FILE_NAME = "procview.json";

interface InstallHooksOptions {
  dir?: string;
  source?: string;
  policy?: string;
  config?: string;
  state: string;
  node: string;
  hook?: string;
  /** false: --no-client. */
  client: boolean;
  socket?: string;
}

async function installHooks(opts: InstallHooksOptions): Promise<void> {
  const dir = path.resolve(opts.dir ?? defaultInstallDir());
  const hook = path.resolve(opts.hook ?? HOOK_BUNDLE);
  if (!(await exists(hook))) throw new Error(`hook bundle ${hook} not found; run npm run build first`);
  if (!path.isAbsolute(opts.node) || !(await exists(opts.node))) throw new Error(`node binary ${opts.node} not found`);
  const hookArgs: string[] = [];
  if (opts.config) hookArgs.push("--config", path.resolve(opts.config));
  if (opts.source) hookArgs.push("--source", path.resolve(opts.source));
  if (opts.policy) hookArgs.push("--policy", opts.policy);
  let client: HookInvocation["client"];
  if (opts.client) {
    if (!(await exists(HOOK_CLIENT)))
      throw new Error(`hook client ${HOOK_CLIENT} not found; run npm run build first (or pass --no-client)`);
    // Any procview serving process can run any container's hook (the arguments travel with the
    // request); the one serving the source is the natural one to ask.
    const socket = path.resolve(opts.socket ?? hookSocketPath(path.resolve(opts.source ?? DEFAULT_MOUNTPOINT)));
    client = { path: HOOK_CLIENT, socket };
  }

  const target = path.join(dir, HOOKS_FILE_NAME);
  const state = await readState(opts.state);
  const ours = state.files.some((f) => f.path === target);
  if (!ours && (await exists(target))) {
    throw new Error(`${target} exists and was not written by procview install; remove it or choose --dir`);
  }
  const invocation: HookInvocation = { node: opts.node, hook, hookArgs, client };
  const text = JSON.stringify(buildHooksFile(invocation), null, 2) + "\n";
  const createdDirs = await mkdirTracked(dir);
  await writeAtomic(target, text);
  const files = [...state.files.filter((f) => f.path !== target), { path: target, sha256: sha256(text) }];
  await writeState(opts.state, { ...state, files }, createdDirs);
  const command = hookCommand(invocation);
  process.stdout.write(`wrote ${target} (hook: ${[command.path, ...command.args.slice(1)].join(" ")}); recorded in ${opts.state}\n`);
}

async function runUninstall(opts: { state: string }): Promise<void> {
  if (!(await exists(opts.state))) {
    process.stdout.write(`nothing to uninstall: ${opts.state} does not exist\n`);
    return;
  }
  // A running unit must stop before its file goes.
  for (const line of await stopServiceIfInstalled((await readState(opts.state)).files.map((f) => f.path)))
    process.stdout.write(`${line}\n`);
  const report = await uninstall(opts.state);
  for (const p of report.restored) process.stdout.write(`restored ${p}\n`);
  for (const p of report.removed) process.stdout.write(`removed ${p}\n`);
  for (const p of report.kept) process.stderr.write(`kept ${p}\n`);
}

export function registerInstallCommands(program: Command): void {
  const install = program.command("install").description("install procview integrations");
  registerInstallService(install);
  registerInstallContainerd(install);
  install
    .command("hooks")
    .description(
      [
        `write the OCI hooks file (${HOOKS_FILE_NAME}) that makes podman and CRI-O run procview-hook for every container.`,
        "",
        `Default directory: the last entry of engine.hooks_dir from containers.conf ($CONTAINERS_CONF, else /usr/share/containers/containers.conf, /etc/containers/containers.conf, /etc/containers/containers.conf.d/*.conf), or ${PODMAN_DEFAULT_HOOKS_DIR} when hooks_dir is not set: the only directory podman 4.x and CRI-O (crio.conf hooks_dir) read by default. ${ETC_HOOKS_DIR} is the usual drop-in place but is read only when listed in hooks_dir; add it there, then pass --dir ${ETC_HOOKS_DIR}.`,
        "",
        'The file runs dist/native/procview-hook, which has procview\'s running serving process do the hook\'s work over its unix socket (a few ms) and runs "<node> <dist/procview-hook.mjs> [flags]" itself when it does not answer; with --no-client the file runs the Node hook directly. PATH is set, because runc gives a hook no environment but its own. What was written is recorded in the state file; "procview uninstall" removes exactly that.',
      ].join("\n"),
    )
    .option("--dir <dir>", "hooks directory to write procview.json into (default: see above)")
    .option(
      "--source <dir>",
      "bake --source <dir> into the hook: the LXCFS-layout directory to bind from (default: the hook config file, else /var/lib/procview)",
    )
    .addOption(
      new Option(
        "--policy <policy>",
        "bake --policy into the hook: fail refuses containers when the views cannot be set up, ignore starts them without (default: the hook config file, else ignore)",
      ).choices(["fail", "ignore"]),
    )
    .option("--config <file>", "bake --config <file> into the hook (default: the hook reads /etc/procview/hook.json if present)")
    .option("--node <path>", "absolute path of the node binary the hook runs with", process.execPath)
    .option("--hook <path>", "path of the bundled hook (default: dist/procview-hook.mjs next to this CLI)")
    .option(
      "--socket <path>",
      "the serving process's socket procview-hook asks (default: the one `procview serve` opens for the source, /run/procview/<source>.hook.sock)",
    )
    .option("--no-client", "run the Node hook directly instead of procview-hook (no fast path through the serving process)")
    .option("--state <file>", "where to record what was written", DEFAULT_STATE_FILE)
    .action((opts: InstallHooksOptions) => installHooks(opts));

  program
    .command("uninstall")
    .description(
      'remove exactly the files "procview install" wrote (as recorded in the state file), and the directories it created if they are empty; files changed since install are kept',
    )
    .option("--state <file>", "state file written by install", DEFAULT_STATE_FILE)
    .action((opts: { state: string }) => runUninstall(opts));
}
