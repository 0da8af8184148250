// The hook as a command: shared by the bundled bin (main.ts) and `procview hook` (cli.ts).
import { lstatSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { DEFAULT_PROBE_TIMEOUT_MS, policyFromFlags, DEFAULT_POLICY, type HookFlags, type HookSettings } from "./config.js";
import { applyPolicy, gaveUp, runHook, type Outcome } from "./run.js";
import { logOutcome } from "./syslog.js";
import { DEFAULT_MOUNTPOINT, DEFAULT_HOOK_CONFIG, DEFAULT_RUNTIME_DIR } from "../core/paths.js";

const MAX_STATE_BYTES = 1 << 20;
// Last resort: no code path should get here (every child has its own
// timeout), but runc waits for the hook forever unless the hook entry has a
// timeout, and a stuck container start is worse than either policy.
const WATCHDOG_MS = 20_000;

export const HOOK_DESCRIPTION = `OCI prestart/createRuntime hook: bind-mount procview's (or LXCFS's) files over
/proc/{meminfo,cpuinfo,stat,uptime,loadavg,diskstats,swaps} and
/sys/devices/system/cpu/online in the container being created.
Reads the OCI state JSON on stdin, as runc/crun pass it. Not meant to be run by hand.

Skipped without error: containers annotated io.procview.disable=true (or
mutating.lxcfs-admission-webhook.io/enable=false), Kubernetes sandbox (pause)
containers, targets the container mounts itself or lists in linux.maskedPaths,
targets missing from the container or reached through a symlink.`;

function defineHookOptions(cmd: Command): Command {
  return cmd
    .description(HOOK_DESCRIPTION)
    .option(
      "--config <file>",
      `hook config file, JSON {"source","policy","probeTimeoutMs","runtimeDir"}; a missing default file means defaults`,
      DEFAULT_HOOK_CONFIG,
    )
    .option(
      "--source <dir>",
      `directory with the LXCFS layout (procview's mountpoint or e.g. /var/lib/lxcfs) [config "source", default ${DEFAULT_MOUNTPOINT}]`,
    )
    .addOption(
      new Option(
        "--policy <policy>",
        `what to do when the views cannot be set up: "fail" refuses to start the container (exit 1, reason on stderr); "ignore" starts it without views and logs the reason to stderr and syslog [config "policy", default ${DEFAULT_POLICY}]`,
      ).choices(["fail", "ignore"]),
    )
    .option(
      "--probe-timeout <ms>",
      `how long the source may take to answer the first read before it counts as dead [config "probeTimeoutMs", default ${DEFAULT_PROBE_TIMEOUT_MS}]`,
    )
    .option(
      "--runtime-dir <dir>",
      `the --runtime-dir of the procview serving the source, where the container is registered so that its own files show its view [config "runtimeDir", default ${DEFAULT_RUNTIME_DIR}]`,
    );
}

type HookOptionValues = { config?: string; source?: string; policy?: string; probeTimeout?: string; runtimeDir?: string };

function flagsOf(opts: HookOptionValues, command: Command): HookFlags {
  // The default config path is optional, an explicit one is not.
  const explicitConfig = command.getOptionValueSource("config") === "cli";
  return {
    config: explicitConfig ? opts.config : undefined,
    source: opts.source,
    policy: opts.policy,
    probeTimeout: opts.probeTimeout,
    runtimeDir: opts.runtimeDir,
  };
}

export function addHookOptions(cmd: Command): Command {
  return defineHookOptions(cmd).action(async (opts: HookOptionValues, command: Command) => {
    await runAsProcess(flagsOf(opts, command));
  });
}

/** The hook's arguments as the serving process receives them from procview-hook (the C client): the
 * same options, parsed by the same definitions, into flags or a one-line error. */
export function parseHookArgs(args: readonly string[]): { ok: true; flags: HookFlags } | { ok: false; error: string } {
  let error: string | undefined;
  const cmd = defineHookOptions(new Command("procview-hook"))
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: (text) => (error ??= text.trim().split("\n")[0]) });
  try {
    cmd.parse([...args], { from: "user" });
  } catch (err) {
    return { ok: false, error: error ?? (err as Error).message };
  }
  if (cmd.args.length > 0) return { ok: false, error: `unexpected arguments: ${cmd.args.join(" ")}` };
  return { ok: true, flags: flagsOf(cmd.opts<HookOptionValues>(), cmd) };
}

/**
 * Flags that came over the service's socket, held to what a hooks.d entry written by `procview
 * install hooks` says: paths absolute and plain (no "..", no "//"), and a config file that is a
 * regular file only root may change. A one-line reason, or null when they are fine. The client
 * is root (the socket checks), but the service reads the config with its own rights, so this
 * keeps the socket from being a way to have it read whatever a request names.
 */
export function checkSocketFlags(flags: HookFlags): string | null {
  const plain = (p: string) => p.startsWith("/") && path.posix.normalize(p) === p && (p === "/" || !p.endsWith("/"));
  if (flags.source !== undefined && !plain(flags.source))
    return `--source must be an absolute path without "..", got ${JSON.stringify(flags.source)}`;
  if (flags.runtimeDir !== undefined && !plain(flags.runtimeDir))
    return `--runtime-dir must be an absolute path without "..", got ${JSON.stringify(flags.runtimeDir)}`;
  if (flags.config === undefined) return null;
  if (!plain(flags.config)) return `--config must be an absolute path without "..", got ${JSON.stringify(flags.config)}`;
  let stats;
  try {
    stats = lstatSync(flags.config);
  } catch (err) {
    return `cannot read config ${flags.config}: ${(err as NodeJS.ErrnoException).code ?? "error"}`;
  }
  if (!stats.isFile()) return `config ${flags.config} is not a regular file`;
  if (stats.uid !== 0 || (stats.mode & 0o022) !== 0)
    return `config ${flags.config} may be changed by others than root (owner uid ${stats.uid}, mode ${(stats.mode & 0o7777).toString(8)})`;
  return null;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_STATE_BYTES) throw new Error(`OCI state on stdin is larger than ${MAX_STATE_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString("utf8");
}

async function finish(outcome: Outcome): Promise<never> {
  for (const line of outcome.stderr) process.stderr.write(line + "\n");
  await logOutcome(outcome);
  // Exit explicitly: a child or a filesystem call stuck on a hung FUSE server must not keep us alive.
  process.exit(outcome.code);
}

export async function runAsProcess(flags: HookFlags): Promise<never> {
  const seen: { settings?: HookSettings } = {};
  const watchdog = setTimeout(() => void finish(gaveUp(flags, seen, WATCHDOG_MS)), WATCHDOG_MS);
  watchdog.unref();
  let stdinText: string;
  try {
    stdinText = await readStdin();
  } catch (err) {
    return finish(applyPolicy(policyFromFlags(flags) ?? DEFAULT_POLICY, (err as Error).message));
  }
  return finish(await runHook(stdinText, flags, seen));
}
