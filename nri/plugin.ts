// procview's NRI plugin: registers with the runtime, subscribes to
// CreateContainer only, and answers each one with read-only bind mounts of the
// served files over /proc/... and /sys/..., decided by the same planViews()
// the OCI hook uses. It never holds a container start for long: the health
// read of <source>/proc/meminfo runs in a child process killed at a deadline
// well inside the runtime's per-request budget (2 s unless the runtime's
// ConfigureRequest says otherwise), and an unhealthy source means "add
// nothing", never an error.
//
// Two procview plugins may be registered with one runtime at once: in a Kubernetes rolling
// update the new pod's plugin registers while the old pod's still serves, so that no container
// is created while none is registered. Each container still gets each view exactly once, and
// NRI never sees two plugins add one mount (which would fail the container: "plugins … both
// tried to set mount"), because NRI's adaptation (pkg/adaptation, the same from NRI 0.6 to
// 0.12) decides a CreateContainer one plugin at a time, under one lock, and hands each plugin
// the request as the adjustments of the plugins called before it left it (result.go appends
// each mount added to the request's container mounts). The plugin called first binds the
// views; the next one finds them in the request, bound from its own source, and adds nothing
// (boundByAnotherPlugin). The claim is the request itself: decided before either answers,
// within the runtime's lock, with nothing on the node to clean up or to go stale. A claim of
// our own on the node (a file per container) would add I/O inside the request's deadline, and
// a claimant that dies before it answers would leave its container without views, where NRI
// now drops that plugin's answer and the next plugin, seeing nothing bound, binds them.
// test/nri/handover.test.ts replays this merge; both containerd lines are checked live.
import { appendFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { normalizeContainerPath, planViews, rebasePlan, type Plan } from "../plan/plan.js";
import { containerDir, VIEW_FILES } from "../core/layout.js";
import { containerSource, existingSources, probeSource, type ProbeResult } from "../plan/probe.js";
import { NriConnection, RpcError } from "./connection.js";
import {
  Code,
  decodeConfigureRequest,
  decodeCreateContainerRequest,
  decodeSynchronizeRequest,
  encodeConfigureResponse,
  encodeCreateContainerResponse,
  encodeEmpty,
  encodeRegisterPluginRequest,
  encodeSynchronizeResponse,
  NriEvent,
  PLUGIN_SERVICE,
  RUNTIME_SERVICE,
  subscription,
  type ConfigureRequest,
  type CreateContainerRequest,
  type NriMount,
  type TtrpcRequest,
} from "./messages.js";
import type { PluginState } from "./status.js";

export const DEFAULT_PLUGIN_NAME = "procview";
export const DEFAULT_PLUGIN_IDX = "10";
/** Bind options: read-only, and nothing on these files may be a device or setuid. */
export const MOUNT_OPTIONS = ["bind", "ro", "nosuid", "nodev"] as const;

export interface PluginOptions {
  socket: string;
  pluginName: string;
  pluginIdx: string;
  source: string;
  /** `procview serve`'s --runtime-dir, where containers are registered (core/registry.ts). */
  runtimeDir: string;
  /** Deadline for the health read of <source>/proc/meminfo. */
  probeTimeoutMs: number;
  /** Pause between connection attempts while the runtime is away. */
  retryMs: number;
  /** Use this already connected descriptor (a runtime-launched plugin gets its socket on fd 3) and stop when it closes. */
  fd?: number;
  log: (line: string) => void;
  /** Told each change of where the plugin stands with the runtime (for its status record). */
  onState?: (state: PluginState, runtime?: string) => void;
}

export interface Decision {
  mounts: NriMount[];
  /** The one log line for this event. */
  line: string;
}

const who = (req: CreateContainerRequest): string => {
  const pod = req.pod ? `${req.pod.namespace ? req.pod.namespace + "/" : ""}${req.pod.name}` : req.container.podSandboxId.slice(0, 12);
  return `${pod}/${req.container.name || req.container.id.slice(0, 12)}`;
};

// Keys the runtime itself puts on the sandbox's annotations (containerd sends
// the sandbox container's spec annotations as the pod's, including
// io.kubernetes.cri.container-type=sandbox, which must not reach the containers).
const RUNTIME_ANNOTATION = /^io\.kubernetes\.(cri|cri-o|docker)\./;

/**
 * The annotations the opt-out rules see: the pod's (kubelet puts a pod's
 * annotations on its sandbox only, never on its containers) less the
 * runtime's own keys, overridden by the container's.
 */
export function effectiveAnnotations(req: CreateContainerRequest): Record<string, string> {
  const fromPod = Object.entries(req.pod?.annotations ?? {}).filter(([k]) => !RUNTIME_ANNOTATION.test(k));
  return { ...Object.fromEntries(fromPod), ...req.container.annotations };
}

/** What planViews says for this container. Pure. */
export function planFor(req: CreateContainerRequest, source: string): Plan {
  const c = req.container;
  return planViews({
    source,
    annotations: effectiveAnnotations(req),
    mounts: c.mounts.map((m) => ({ destination: m.destination, type: m.type })),
    // NRI does not pass linux.maskedPaths; none of the runtimes' default masks covers our files.
    namespaces: c.namespaces,
    inSpec: true,
  });
}

export function toNriMounts(plan: Plan): NriMount[] {
  if (plan.kind !== "mount") return [];
  return plan.mounts.map((m) => ({ destination: m.destination, type: "bind", source: m.source, options: [...MOUNT_OPTIONS] }));
}

export type Prober = (source: string, timeoutMs: number) => Promise<ProbeResult>;

const OUR_TARGETS: ReadonlySet<string> = new Set(VIEW_FILES.map((f) => `/${f}`));

/**
 * The targets the request already binds to the very file this plugin would bind there (from
 * `source`, or the container's own copy under it): another procview plugin for the same
 * source, which the runtime called before this one, added them (see the top of this file).
 */
export function boundByAnotherPlugin(req: CreateContainerRequest, source: string): Set<string> {
  const own = containerDir(source, req.container.id);
  const bound = new Set<string>();
  for (const m of req.container.mounts) {
    const target = normalizeContainerPath(m.destination);
    if (!OUR_TARGETS.has(target)) continue;
    if (m.source === path.posix.join(source, target) || m.source === path.posix.join(own, target)) bound.add(target);
  }
  return bound;
}

/** Decide one CreateContainer: the plan, then the health of the source; never throws. */
export async function decide(
  req: CreateContainerRequest,
  opts: Pick<PluginOptions, "source" | "probeTimeoutMs" | "runtimeDir">,
  probe: Prober = probeSource,
): Promise<Decision> {
  const name = who(req);
  const planned = planFor(req, opts.source);
  if (planned.kind === "opt-out") return { mounts: [], line: `${name}: no views: ${planned.reason}` };
  const another = boundByAnotherPlugin(req, opts.source);
  const sharedPlan = {
    ...planned,
    skipped: planned.skipped.map((s) =>
      another.has(s.destination) ? { ...s, reason: "bound by another procview plugin, called before this one" } : s,
    ),
  };
  if (sharedPlan.mounts.length === 0 && another.size > 0)
    return {
      mounts: [],
      line: `${name}: nothing to add: another procview plugin, called before this one, bound ${another.size} views (${[...another].join(" ")})`,
    };
  if (sharedPlan.mounts.length === 0)
    return {
      mounts: [],
      line: `${name}: no views: every target skipped (${sharedPlan.skipped.map((s) => `${s.destination}: ${s.reason}`).join("; ")})`,
    };
  const health = await probe(opts.source, opts.probeTimeoutMs);
  if (!health.ok) return { mounts: [], line: `${name}: no views, container starts with the host's files: ${health.reason}` };
  // The container does not exist yet: procview learns which it is from the cgroup the runtime
  // will create for it, once a process runs there.
  const cgroupsPath = req.container.cgroupsPath;
  const identity = cgroupsPath === "" ? undefined : { runtimeDir: opts.runtimeDir, record: { cgroupsPath, by: "nri" as const } };
  const own = await containerSource(opts.source, req.container.id, opts.probeTimeoutMs, identity);
  const plan = rebasePlan(sharedPlan, own.dir);
  // A bind of a missing source would fail the whole container start in runc.
  const present = await existingSources(
    plan.mounts.map((m) => m.source),
    opts.probeTimeoutMs,
  );
  if (!present)
    return { mounts: [], line: `${name}: no views: checking the files under ${opts.source} took longer than ${opts.probeTimeoutMs} ms` };
  const missing = plan.mounts.filter((m) => !present.has(m.source));
  const kept: Plan = { ...plan, mounts: plan.mounts.filter((m) => present.has(m.source)) };
  const mounts = toNriMounts(kept);
  const notes = [
    ...(own.why === undefined ? [] : [`bound from ${own.dir}: ${own.why}`]),
    ...plan.skipped.map((s) => `skipped ${s.destination}: ${s.reason}`),
    ...missing.map((m) => `skipped ${m.destination}: ${m.source} does not exist`),
  ];
  return {
    mounts,
    line: `${name}: ${mounts.length} views (${mounts.map((m) => m.destination).join(" ")})${notes.length ? "; " + notes.join("; ") : ""}`,
  };
}

/** NRI's defaults (pkg/api/timeouts.go), in force when the runtime's ConfigureRequest does not say (NRI before 0.7). */
export const DEFAULT_REGISTRATION_TIMEOUT_MS = 5000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 2000;
/** The share of the runtime's per-request budget the health check may take: 800 ms of NRI's default 2 s. */
const PROBE_SHARE = 0.4;

/** The runtime's timeouts, as its last ConfigureRequest gave them; kept across reconnections. */
export class RuntimeTimeouts {
  registrationMs = DEFAULT_REGISTRATION_TIMEOUT_MS;
  requestMs = DEFAULT_REQUEST_TIMEOUT_MS;
  /** Whether the runtime sent them (NRI 0.7 and later do). */
  sent = false;

  configure(c: Pick<ConfigureRequest, "registrationTimeout" | "requestTimeout">): void {
    this.sent = c.registrationTimeout > 0n || c.requestTimeout > 0n;
    this.registrationMs = c.registrationTimeout > 0n ? Number(c.registrationTimeout) : DEFAULT_REGISTRATION_TIMEOUT_MS;
    this.requestMs = c.requestTimeout > 0n ? Number(c.requestTimeout) : DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** The health-check deadline: the one asked for, within the runtime's budget. */
  probeMs(asked: number): number {
    return Math.max(1, Math.min(asked, Math.floor(this.requestMs * PROBE_SHARE)));
  }

  describe(): string {
    return `request timeout ${this.requestMs} ms, registration timeout ${this.registrationMs} ms${this.sent ? "" : " (NRI's defaults: the runtime sent none)"}`;
  }
}

/** What a connection's handler reports of the runtime's side of the registration. */
export interface SessionProgress {
  configured(runtime: string): void;
  /** The last part of Synchronize is answered: the runtime adds the plugin to those it calls. */
  synchronized(): void;
}

/** The events procview asks for. */
export const WANTED_EVENTS = [NriEvent.CREATE_CONTAINER] as const;

/**
 * The Plugin service, as the runtime calls it, for one connection. Synchronize may come in
 * parts (NRI 0.7 and later split it when it would pass ttrpc's 4 MiB): every part but the
 * last says more = true and must be answered with more = true and no updates; the counts
 * add up until the last part, and one line is logged per complete sync.
 */
export function makeHandler(
  opts: PluginOptions,
  probe: Prober = probeSource,
  timeouts = new RuntimeTimeouts(),
  progress?: SessionProgress,
): (req: TtrpcRequest) => Promise<Uint8Array> {
  const sync = { pods: 0, containers: 0, parts: 0, bytes: 0 };
  return async (req) => {
    if (req.service !== PLUGIN_SERVICE) throw new RpcError(Code.UNIMPLEMENTED, `service ${req.service} not implemented`);
    switch (req.method) {
      case "Configure": {
        const c = decodeConfigureRequest(req.payload);
        timeouts.configure(c);
        const events = subscription(WANTED_EVENTS);
        opts.log(
          `configured by ${c.runtimeName || "runtime"} ${c.runtimeVersion} (${timeouts.describe()}; health check deadline ${timeouts.probeMs(opts.probeTimeoutMs)} ms); subscribed to CreateContainer; source ${opts.source}`,
        );
        progress?.configured(`${c.runtimeName || "runtime"} ${c.runtimeVersion}`.trim());
        return encodeConfigureResponse(events);
      }
      case "Synchronize": {
        const s = decodeSynchronizeRequest(req.payload);
        sync.pods += s.pods.length;
        sync.containers += s.containers.length;
        sync.parts += 1;
        sync.bytes += req.payload.length;
        if (s.more) return encodeSynchronizeResponse(true);
        const parts = sync.parts > 1 ? ` in ${sync.parts} parts` : "";
        opts.log(
          `synchronized: the runtime has ${sync.pods} pods and ${sync.containers} containers (${sync.bytes} bytes${parts}; existing containers are left as they are)`,
        );
        Object.assign(sync, { pods: 0, containers: 0, parts: 0, bytes: 0 });
        // Answered on the next turn of the event loop, before anything else this plugin writes.
        setImmediate(() => progress?.synchronized());
        return encodeSynchronizeResponse(false);
      }
      case "CreateContainer": {
        let ccr: CreateContainerRequest;
        try {
          ccr = decodeCreateContainerRequest(req.payload);
        } catch (err) {
          // Never fail a container start over our own decoding: answer "no adjustment".
          opts.log(`CreateContainer: no views: undecodable request: ${(err as Error).message}`);
          return encodeCreateContainerResponse([]);
        }
        const d = await decide(
          ccr,
          { source: opts.source, runtimeDir: opts.runtimeDir, probeTimeoutMs: timeouts.probeMs(opts.probeTimeoutMs) },
          probe,
        );
        opts.log(d.line);
        return encodeCreateContainerResponse(d.mounts);
      }
      case "Shutdown":
        opts.log("the runtime is shutting down");
        return encodeEmpty();
      case "UpdateContainer":
      case "StopContainer":
        return encodeEmpty(); // no updates, no evictions
      case "StateChange":
        return encodeEmpty();
      default:
        throw new RpcError(Code.UNIMPLEMENTED, `method ${req.method} not implemented`);
    }
  };
}

function connectUnix(socketPath: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(socketPath);
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** One connection's life: register, serve, return when it is gone. */
async function session(
  socket: net.Socket,
  opts: PluginOptions,
  probe: Prober,
  timeouts: RuntimeTimeouts,
  onOpen: (c: NriConnection) => void,
): Promise<string> {
  // Registered for the status record once the runtime has both answered RegisterPlugin and had
  // its Synchronize answered (it calls the plugin from then on); the two come in either order.
  const seen = { registered: false, synchronized: false, runtime: "" };
  const ready = (): void => {
    if (seen.registered && seen.synchronized) opts.onState?.("registered", seen.runtime);
  };
  const progress: SessionProgress = {
    configured: (runtime) => void (seen.runtime = runtime),
    synchronized: () => {
      seen.synchronized = true;
      ready();
    },
  };
  const conn = new NriConnection(socket, makeHandler(opts, probe, timeouts, progress));
  onOpen(conn);
  try {
    // The runtime's registration timeout from its last ConfigureRequest, NRI's default before one.
    const register = encodeRegisterPluginRequest(opts.pluginName, opts.pluginIdx);
    await conn.call(RUNTIME_SERVICE, "RegisterPlugin", register, timeouts.registrationMs);
    opts.log(`registered as ${opts.pluginIdx}-${opts.pluginName}`);
    seen.registered = true;
    ready();
  } catch (err) {
    conn.close();
    await conn.closed;
    return `registration failed: ${(err as Error).message}`;
  }
  const why = await conn.closed;
  return why ? `connection lost: ${why.message}` : "the runtime closed the connection";
}

/**
 * Run until `signal` aborts (or, on an inherited descriptor, until the runtime
 * closes it). On a socket path, reconnects every retryMs while the runtime is
 * away, logging one line when it goes and one when it is back.
 *
 * Told to stop, the plugin answers the requests under way before it leaves the runtime
 * (NriConnection.finish): a container being created gets its views from it, and every later
 * one goes to the other procview plugin a rolling update has already registered.
 */
export async function runPlugin(opts: PluginOptions, signal: AbortSignal, probe: Prober = probeSource): Promise<void> {
  const timeouts = new RuntimeTimeouts();
  let current: NriConnection | undefined;
  const onAbort = (): void => {
    opts.onState?.("stopping");
    current?.finish(timeouts.requestMs);
  };
  signal.addEventListener("abort", onAbort);
  try {
    if (opts.fd !== undefined) {
      const socket = new net.Socket({ fd: opts.fd, readable: true, writable: true });
      const why = await session(socket, opts, probe, timeouts, (c) => (current = c));
      opts.log(signal.aborted ? "left the runtime" : `${why}; exiting (the runtime starts this plugin again when it restarts)`);
      return;
    }
    let reportedAway = false;
    while (!signal.aborted) {
      let socket: net.Socket;
      try {
        socket = await connectUnix(opts.socket);
      } catch (err) {
        if (!reportedAway)
          opts.log(
            `cannot reach the runtime at ${opts.socket} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); retrying every ${opts.retryMs} ms`,
          );
        reportedAway = true;
        await sleep(opts.retryMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      if (signal.aborted) {
        socket.destroy();
        break;
      }
      reportedAway = false;
      opts.log(`connected to ${opts.socket}`);
      const why = await session(socket, opts, probe, timeouts, (c) => (current = c));
      current = undefined;
      if (signal.aborted) {
        opts.log("left the runtime");
        break;
      }
      opts.log(`${why}; reconnecting`);
      opts.onState?.("connecting");
      await sleep(opts.retryMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** One line per event to stderr, prefixed, and appended to a log file when given. */
export function makeLogger(logFile?: string): (line: string) => void {
  return (line) => {
    const text = `procview-nri: ${line}\n`;
    process.stderr.write(text);
    if (logFile) {
      try {
        appendFileSync(logFile, `${new Date().toISOString()} ${text}`);
      } catch {
        // the log file is a convenience; stderr carries the line
      }
    }
  };
}
