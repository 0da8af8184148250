// `procview nri`: the NRI plugin as a command; `procview nri-status`: the plugins of the node.
import { Command, Option } from "commander";
import { z } from "zod";
import { DEFAULT_PLUGIN_IDX, DEFAULT_PLUGIN_NAME, makeLogger, runPlugin } from "./plugin.js";
import { describeRecord, isReady, ownMountNamespace, PluginStatusFile, readPluginRecords } from "./status.js";
import { DEFAULT_NRI_SOCKET, DEFAULT_MOUNTPOINT, DEFAULT_RUNTIME_DIR, nriStatusDir } from "../core/paths.js";
import { describeZodError } from "../core/errors.js";

const NriFlagsSchema = z.object({
  socket: z.string().min(1),
  pluginName: z.string().regex(/^[A-Za-z0-9._-]+$/, 'plugin name: letters, digits, ".", "_", "-"'),
  pluginIdx: z.string().regex(/^[0-9]{2}$/, "plugin index: two digits (NRI orders plugins by it)"),
  source: z.string().startsWith("/", "source must be an absolute path"),
  probeTimeoutMs: z.coerce.number().int().min(50).max(1500),
  retryMs: z.coerce.number().int().min(10),
  runtimeDir: z.string().startsWith("/", "runtime directory must be an absolute path"),
  logFile: z.string().optional(),
});

// What a runtime-launched plugin finds in its environment (nri pkg/api/plugin.go).
const LaunchEnvSchema = z.object({
  NRI_PLUGIN_NAME: z.string().min(1),
  NRI_PLUGIN_IDX: z.string().regex(/^[0-9]{2}$/),
  NRI_PLUGIN_SOCKET: z.coerce.number().int().min(0),
});

export async function nriAction(flags: unknown): Promise<void> {
  const parsed = NriFlagsSchema.safeParse(flags);
  if (!parsed.success) throw new Error(describeZodError(parsed.error));
  const f = parsed.data;
  const launched = process.env.NRI_PLUGIN_SOCKET !== undefined ? LaunchEnvSchema.safeParse(process.env) : undefined;
  if (launched && !launched.success)
    throw new Error(`NRI_PLUGIN_SOCKET is set but the launch environment is invalid: ${describeZodError(launched.error)}`);
  const log = makeLogger(f.logFile);
  const controller = new AbortController();
  // Every signal is handled, not only the first: a runtime may send its stop signal more than
  // once, and a second one taken by Node's default action would kill the plugin in the middle of
  // the answers it is finishing before it leaves.
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      log(controller.signal.aborted ? `${sig} again: already stopping` : `${sig}: stopping`);
      controller.abort();
    });
  }
  const env = launched?.data;
  log(
    env
      ? `started by the runtime as ${env.NRI_PLUGIN_IDX}-${env.NRI_PLUGIN_NAME} on fd ${env.NRI_PLUGIN_SOCKET}; source ${f.source}`
      : `starting as ${f.pluginIdx}-${f.pluginName} for ${f.socket}; source ${f.source}`,
  );
  const pluginName = env?.NRI_PLUGIN_NAME ?? f.pluginName;
  const pluginIdx = env?.NRI_PLUGIN_IDX ?? f.pluginIdx;
  // Registered at once, even beside another procview plugin (the pod a rolling update replaces):
  // whichever the runtime calls first binds the views, the other adds nothing (plugin.ts).
  const record = PluginStatusFile.create(
    f.runtimeDir,
    {
      name: `${pluginIdx}-${pluginName}`,
      socket: env ? `descriptor ${env.NRI_PLUGIN_SOCKET} from the runtime that started it` : f.socket,
      source: f.source,
    },
    log,
  );
  try {
    await runPlugin(
      {
        socket: f.socket,
        pluginName,
        pluginIdx,
        source: f.source,
        runtimeDir: f.runtimeDir,
        probeTimeoutMs: f.probeTimeoutMs,
        retryMs: f.retryMs,
        fd: env?.NRI_PLUGIN_SOCKET,
        log,
        onState: (state, runtime) => record?.update(state, runtime),
      },
      controller.signal,
    );
  } finally {
    record?.remove();
  }
}

const NriStatusFlagsSchema = z.object({
  runtimeDir: z.string().startsWith("/", "runtime directory must be an absolute path"),
  thisContainer: z.boolean(),
});

/** Prints the node's procview NRI plugins; false when none is registered (in this container, with --this-container). */
export function nriStatusAction(flags: unknown): boolean {
  const parsed = NriStatusFlagsSchema.safeParse(flags);
  if (!parsed.success) throw new Error(describeZodError(parsed.error));
  const f = parsed.data;
  const here = ownMountNamespace();
  const records = readPluginRecords(f.runtimeDir);
  for (const r of records) process.stdout.write(`${describeRecord(r, here)}\n`);
  if (records.length === 0) process.stdout.write(`no procview NRI plugin has a status record in ${nriStatusDir(f.runtimeDir)}\n`);
  const ready = records.some((r) => isReady(r, f.thisContainer ? here : undefined));
  if (!ready)
    process.stdout.write(
      f.thisContainer
        ? "not ready: no plugin of this container is registered with its runtime\n"
        : "no plugin is registered with its runtime\n",
    );
  return ready;
}

export function registerNriCommand(program: Command): void {
  program
    .command("nri")
    .description(
      [
        "containerd's NRI plugin: for every container containerd creates, add read-only bind mounts of procview's files over /proc/{meminfo,cpuinfo,stat,uptime,loadavg,diskstats,swaps} and /sys/devices/system/cpu/online.",
        "",
        "Same rules as the OCI hook: io.procview.disable=true (and the other opt-out annotations) and Kubernetes sandbox containers get nothing, nor does a path the container mounts itself. When <source>/proc/meminfo does not answer within --probe-timeout-ms, the container starts without views and the reason is logged. One line per event on stderr.",
        "",
        'Run it as a service (it connects to --socket and reconnects whenever containerd restarts), or let containerd start it from /opt/nri/plugins (it then uses the socket containerd hands it on fd 3, as NRI_PLUGIN_SOCKET says, and exits when containerd goes). See "procview install containerd".',
      ].join("\n"),
    )
    .option("--socket <path>", "containerd's NRI socket", DEFAULT_NRI_SOCKET)
    .option("--plugin-name <name>", "name to register as", DEFAULT_PLUGIN_NAME)
    .option("--plugin-idx <nn>", "two-digit index; plugins are called in ascending order", DEFAULT_PLUGIN_IDX)
    .option("--source <dir>", "procview mountpoint (or any LXCFS-layout directory) to bind from", DEFAULT_MOUNTPOINT)
    .option(
      "--probe-timeout-ms <ms>",
      "how long the health read of <source>/proc/meminfo may take; held within 40% of the request timeout the runtime gives a plugin (2 s unless it says otherwise)",
      "800",
    )
    .addOption(new Option("--retry-ms <ms>", "pause between connection attempts while containerd is away").default("1000").hideHelp())
    .option(
      "--runtime-dir <dir>",
      "the --runtime-dir of the procview serving the source: where each container is registered (so that its own files show its view), and where the plugin keeps its status record (nri/), which procview nri-status reads",
      DEFAULT_RUNTIME_DIR,
    )
    .option("--log-file <file>", "also append each line, timestamped, to this file")
    .action((opts: unknown) => nriAction(opts).then(() => process.exit(0)));

  program
    .command("nri-status")
    .description(
      "the procview NRI plugins running on this node and whether each is registered with its runtime; exits 1 when none is. Several at once are fine (during a Kubernetes rolling update the new pod's plugin registers beside the old one's): each container still gets each view once",
    )
    .option("--runtime-dir <dir>", "the --runtime-dir the plugins were started with", DEFAULT_RUNTIME_DIR)
    .option(
      "--this-container",
      "exit 1 unless a plugin running in this container (this process's mount namespace) is registered: the readiness probe of the DaemonSet's nri container, so that a rolling update stops the old pod only once the new pod's plugin takes part in every container creation",
      false,
    )
    .action((opts: unknown) => {
      if (!nriStatusAction(opts)) process.exitCode = 1;
    });
}
