// The hook as a command: shared by the bundled bin (main.ts) and `procview hook` (cli.ts).
import { Command, Option } from "commander";
import { DEFAULT_PROBE_TIMEOUT_MS, policyFromFlags, DEFAULT_POLICY, type HookFlags, type HookSettings } from "./config.js";
import { applyPolicy, gaveUp, runHook, type Outcome } from "./run.js";
import { logOutcome } from "./syslog.js";
import { DEFAULT_MOUNTPOINT, DEFAULT_HOOK_CONFIG } from "../core/paths.js";

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
      `hook config file, JSON {"source","policy","probeTimeoutMs"}; a missing default file means defaults`,
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
    );
}

type HookOptionValues = { config?: string; source?: string; policy?: string; probeTimeout?: string };

function flagsOf(opts: HookOptionValues, command: Command): HookFlags {
  // The default config path is optional, an explicit one is not.
  const explicitConfig = command.getOptionValueSource("config") === "cli";
  return { config: explicitConfig ? opts.config : undefined, source: opts.source, policy: opts.policy, probeTimeout: opts.probeTimeout };
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
