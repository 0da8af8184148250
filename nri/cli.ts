// `procview nri`: the NRI plugin as a command.
import { Command, Option } from "commander";
import { z } from "zod";
import { DEFAULT_PLUGIN_IDX, DEFAULT_PLUGIN_NAME, makeLogger, runPlugin } from "./plugin.js";
import { holdPluginLock } from "./lock.js";
import { DEFAULT_NRI_SOCKET, DEFAULT_MOUNTPOINT, DEFAULT_RUNTIME_DIR, nriLockPath } from "../core/paths.js";
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
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      controller.abort();
    });
  }
  const env = launched?.data;
  log(
    env
      ? `started by the runtime as ${env.NRI_PLUGIN_IDX}-${env.NRI_PLUGIN_NAME} on fd ${env.NRI_PLUGIN_SOCKET}; source ${f.source}`
      : `starting as ${f.pluginIdx}-${f.pluginName} for ${f.socket}; source ${f.source}`,
  );
  // A plugin the runtime launched is the runtime's only one of its name; an external one waits
  // for any other procview plugin connected to the same socket to go (nri/lock.ts).
  if (!env && !(await holdPluginLock(nriLockPath(f.socket, f.runtimeDir), controller.signal, log))) return;
  await runPlugin(
    {
      socket: f.socket,
      pluginName: env?.NRI_PLUGIN_NAME ?? f.pluginName,
      pluginIdx: env?.NRI_PLUGIN_IDX ?? f.pluginIdx,
      source: f.source,
      runtimeDir: f.runtimeDir,
      probeTimeoutMs: f.probeTimeoutMs,
      retryMs: f.retryMs,
      fd: env?.NRI_PLUGIN_SOCKET,
      log,
    },
    controller.signal,
  );
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
      "the --runtime-dir of the procview serving the source: where each container is registered (so that its own files show its view), and the lock that keeps to one procview plugin per NRI socket (nri/<socket>.lock): a second one, e.g. the new pod's in a Kubernetes rolling update, waits until the first has stopped",
      DEFAULT_RUNTIME_DIR,
    )
    .option("--log-file <file>", "also append each line, timestamped, to this file")
    .action((opts: unknown) => nriAction(opts).then(() => process.exit(0)));
}
