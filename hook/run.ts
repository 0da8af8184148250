// The hook from stdin to exit code, without touching process.* so that tests
// and `procview hook` can drive it directly.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ConfigError, DEFAULT_POLICY, loadSettings, policyFromFlags, type HookFlags, type HookSettings } from "./config.js";
import { bindAll, BindError } from "./mounter.js";
import { containerSource, existingSources, probeOwnSource, probeSource } from "../plan/probe.js";
import { checkContainerProcess, InputError, resolveRootfs, targetSkipReason } from "./rootfs-check.js";
import { OciConfigSchema, OciStateSchema, type Policy } from "./schemas.js";
import { planViews, rebasePlan, type PlannedMount, type SkippedMount } from "../plan/plan.js";
import { describeZodError } from "../core/errors.js";
import { readStat } from "../fuse/cgroup/process.js";

export interface Outcome {
  /** Process exit code: 0 lets the runtime start the container. */
  code: number;
  /** Lines for stderr (the runtime shows them when the hook fails). */
  stderr: string[];
  /** Line for the system log, when something went wrong. */
  syslog?: string;
  /** What was bound, for callers and tests. */
  bound: PlannedMount[];
  skipped: SkippedMount[];
}

const PREFIX = "procview-hook: ";

/** A reason not to give the container its views; what happens next is the policy's call. */
class Refusal extends Error {}

export function applyPolicy(policy: Policy, reason: string, containerId?: string): Outcome {
  const who = containerId ? `container ${containerId.slice(0, 12)}: ` : "";
  if (policy === "fail") {
    return { code: 1, stderr: [PREFIX + who + reason], syslog: who + reason + " (policy fail: container refused)", bound: [], skipped: [] };
  }
  const line = `${who}${reason}; starting without procview views (policy ignore)`;
  return { code: 0, stderr: [PREFIX + line], syslog: line, bound: [], skipped: [] };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // The parser's message quotes the text: never echo a file's contents.
    throw new Refusal(`${what} is not valid JSON`);
  }
}

async function readBundleConfig(bundle: string) {
  const file = path.join(bundle, "config.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Refusal(`cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed = OciConfigSchema.safeParse(parseJson(text, file));
  if (!parsed.success) throw new Refusal(`${file} is not a valid OCI config: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** Where the hook runs. */
export interface HookContext {
  /** The mountpoint served by the process running the hook (the serving process, for procview-hook):
   * that source is alive while we are, and is probed in-process rather than by a child. */
  ownSource?: string;
}

async function attempt(stdinText: string, settings: HookSettings, idOut: { id?: string }, context: HookContext): Promise<Outcome> {
  const stateParsed = OciStateSchema.safeParse(parseJson(stdinText, "OCI state on stdin"));
  if (!stateParsed.success) throw new Refusal(`OCI state on stdin is invalid: ${describeZodError(stateParsed.error)}`);
  const state = stateParsed.data;
  idOut.id = state.id;

  const config = await readBundleConfig(state.bundle);
  const sharedPlan = planViews({
    source: settings.source,
    annotations: { ...(config.annotations ?? {}), ...(state.annotations ?? {}) },
    mounts: config.mounts,
    maskedPaths: config.linux?.maskedPaths,
    namespaces: config.linux?.namespaces,
  });
  if (sharedPlan.kind === "opt-out") {
    return { code: 0, stderr: [`${PREFIX}no views for ${state.id.slice(0, 12)}: ${sharedPlan.reason}`], bound: [], skipped: [] };
  }

  const rootfs = await resolveRootfs(state.bundle, config.root.path);
  await checkContainerProcess(state.pid);

  const probe =
    context.ownSource !== undefined && path.resolve(settings.source) === context.ownSource
      ? await probeOwnSource(settings.source, settings.probeTimeoutMs)
      : await probeSource(settings.source, settings.probeTimeoutMs);
  if (!probe.ok) throw new Refusal(probe.reason);
  // The container's own copy of the views shows it to whoever reads: procview learns which
  // container the id is from its init, named by pid and start time (a pid may be reused).
  const init = readStat("/proc", state.pid);
  const identity = init && {
    runtimeDir: settings.runtimeDir,
    record: { pid: state.pid, startTicks: init.startTicks, by: "hook" as const },
  };
  const own = await containerSource(settings.source, state.id, settings.probeTimeoutMs, identity ?? undefined);
  const plan = rebasePlan(sharedPlan, own.dir);
  const present = await existingSources(
    plan.mounts.map((m) => m.source),
    settings.probeTimeoutMs,
  );
  if (!present) throw new Refusal(`source ${settings.source} stopped answering after the first read`);

  const skipped = [...plan.skipped];
  const todo: PlannedMount[] = [];
  for (const m of plan.mounts) {
    if (!present.has(m.source)) {
      skipped.push({ file: m.file, destination: m.destination, reason: `the source has no ${m.source}` });
      continue;
    }
    const why = await targetSkipReason(state.pid, rootfs, m.destination);
    if (why) skipped.push({ file: m.file, destination: m.destination, reason: why });
    else todo.push(m);
  }

  await bindAll(
    state.pid,
    todo.map((m) => ({ source: m.source, target: rootfs + m.destination })),
  );
  return {
    code: 0,
    stderr: [
      ...(own.why === undefined ? [] : [`${PREFIX}views bound from ${own.dir}: ${own.why}`]),
      ...skipped.map((s) => `${PREFIX}skipped ${s.destination}: ${s.reason}`),
    ],
    bound: todo,
    skipped,
  };
}

/** A watchdog's answer when the hook ran out of time: the policy known by then. */
export function gaveUp(flags: HookFlags, seen: { settings?: HookSettings }, ms: number): Outcome {
  return applyPolicy(seen.settings?.policy ?? policyFromFlags(flags) ?? DEFAULT_POLICY, `hook gave up after ${ms} ms`);
}

/** `seen.settings` is filled in as soon as the settings are known, so a watchdog can apply the right policy. */
export async function runHook(
  stdinText: string,
  flags: HookFlags,
  seen: { settings?: HookSettings } = {},
  context: HookContext = {},
): Promise<Outcome> {
  let settings: HookSettings;
  try {
    settings = await loadSettings(flags);
    seen.settings = settings;
  } catch (err) {
    if (err instanceof ConfigError) return applyPolicy(policyFromFlags(flags) ?? DEFAULT_POLICY, err.message);
    throw err;
  }
  const ids: { id?: string } = {};
  try {
    return await attempt(stdinText, settings, ids, context);
  } catch (err) {
    if (err instanceof Refusal || err instanceof InputError || err instanceof BindError) {
      return applyPolicy(settings.policy, err.message, ids.id);
    }
    // Anything else is a bug in the hook; still one line, still the policy.
    return applyPolicy(settings.policy, `internal error: ${(err as Error).stack?.split("\n")[0] ?? String(err)}`, ids.id);
  }
}
